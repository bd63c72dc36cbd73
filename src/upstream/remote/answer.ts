/**
 * A remote server's answer to one POST or GET, read into JSON-RPC messages whatever its form: one
 * JSON body (an object or, from 2025-03-26 servers, an array) or an SSE stream of `message` events.
 * Malformed messages are skipped, as the stdio framer skips bad lines.
 */
import type { IncomingMessage } from 'node:http';
import { invalidReason, type JsonRpcMessage } from '../../protocol/message.ts';
import { mediaType, readBody } from './http-call.ts';
import { SseReader } from './sse-reader.ts';

/** Where a stream stopped: the last SSE id seen (the resume point) and the server's `retry:` wish. */
export interface StreamEnd {
  lastEventId: string | undefined;
  retryMs: number | undefined;
  /** Why reading stopped early (socket reset, oversized line); undefined for a clean end. */
  error: string | undefined;
}

/** The messages in one JSON text; nothing when it is not JSON-RPC. */
export function parseMessages(text: string): JsonRpcMessage[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return [];
  }
  const items = Array.isArray(value) ? value : [value];
  return items.filter((item): item is JsonRpcMessage => invalidReason(item) === undefined);
}

/** True when the answer is an event stream (else it is read as one JSON body). */
export function isEventStream(res: IncomingMessage): boolean {
  return mediaType(res) === 'text/event-stream';
}

/** Reads a JSON body whole and hands over its messages. */
export async function readJsonAnswer(res: IncomingMessage, maxBytes: number, onMessage: (msg: JsonRpcMessage) => void): Promise<void> {
  const body = await readBody(res, maxBytes);
  for (const msg of parseMessages(body.toString('utf8'))) onMessage(msg);
}

/**
 * Reads an event stream until it ends, handing over each message as it arrives. `lastEventId` starts
 * from a resumed stream's point, so a stream that sends no new id keeps the old one.
 */
export function readEventStream(
  res: IncomingMessage, maxLineBytes: number, lastEventId: string | undefined,
  on: { message(msg: JsonRpcMessage): void; endpoint?(uri: string): void },
): Promise<StreamEnd> {
  const end: StreamEnd = { lastEventId, retryMs: undefined, error: undefined };
  const reader = new SseReader(maxLineBytes, {
    event: (ev) => {
      if (ev.id !== undefined) end.lastEventId = ev.id;
      if (ev.event === 'endpoint') on.endpoint?.(ev.data);
      else if (ev.event === 'message' && ev.data !== '') for (const msg of parseMessages(ev.data)) on.message(msg);
    },
    retry: (ms) => { end.retryMs = ms; },
  });
  return new Promise((resolve) => {
    let isDone = false;
    const finish = (error?: string): void => {
      if (isDone) return;
      isDone = true;
      end.error = error;
      res.removeAllListeners('data');
      resolve(end);
    };
    res.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (err) {
        res.destroy();
        finish((err as Error).message);
      }
    });
    res.once('end', () => finish());
    res.once('error', (err) => finish(err.message));
    // 'close' without 'end': the connection dropped mid-stream.
    res.once('close', () => finish(res.complete ? undefined : 'the stream was cut off'));
  });
}

/** Every message of one request's answer, a JSON body or an event stream scoped to it; a broken body is no message. */
export async function readAnswer(res: IncomingMessage, maxBytes: number, onMessage: (msg: JsonRpcMessage) => void): Promise<void> {
  if (isEventStream(res)) await readEventStream(res, maxBytes, undefined, { message: onMessage });
  else await readJsonAnswer(res, maxBytes, onMessage).catch(() => {});
}
