/**
 * One face for the client eras the field matrix drives through the proxy: SDK 1.32 over Streamable
 * HTTP and over legacy SSE, and the SDK v2 client (@modelcontextprotocol/client 2.4) in its default
 * negotiation (a 2025-11-25 session) and pinned to 2026-07-28 (stateless). Each answers sampling and
 * elicitation the same way, and asks for log messages the way its era does: `logging/setLevel` on a
 * session, the per-request `_meta` log level when stateless.
 */
import { Client as V2Client, StreamableHTTPClientTransport as V2Transport } from '@modelcontextprotocol/client';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, textOf, withDeadline } from './proxy.ts';

export const ERAS = ['sdk1-streamable', 'sdk1-sse', 'v2-default', 'v2-2026-07-28'] as const;
export type Era = (typeof ERAS)[number];

const LOG_LEVEL_KEY = 'io.modelcontextprotocol/logLevel';

export interface CallOptions {
  onprogress?: (progress: number) => void;
  /** Ask for log messages during this call (stateless era: `_meta` log level `debug`). */
  wantLogs?: boolean;
  timeoutMs: number;
}

export interface FieldClient {
  era: Era;
  /** The protocol version the client ended on. */
  version: string | undefined;
  listTools(): Promise<string[]>;
  /** A tools/call; resolves with the text of every content item, or rejects with the error. */
  call(name: string, args: Record<string, unknown>, options: CallOptions): Promise<string>;
  /** Log messages from now on go to `onLog`; on a session, `logging/setLevel debug` when the server declares logging. */
  listenForLogs(onLog: (data: unknown) => void): Promise<void>;
  close(): Promise<void>;
}

/** What every era's client answers: a sampled text naming the prompt, and a form filled as Ada. */
function sampled(params: { messages: Array<{ content: unknown }> }): { role: 'assistant'; content: { type: 'text'; text: string }; model: string; stopReason: string } {
  const content = params.messages[0]?.content as { text?: string } | undefined;
  return { role: 'assistant', content: { type: 'text', text: `sampled(${content?.text ?? ''})` }, model: 'field-model', stopReason: 'endTurn' };
}

function elicited(params: { message: string }): { action: 'accept'; content: Record<string, string | boolean> } {
  // server-everything's form requires `name`; the Python servers ask for one string, `value`.
  return { action: 'accept', content: params.message.startsWith('Please provide inputs') ? { name: 'Ada', check: true } : { value: 'Ada' } };
}

function allText(result: unknown): string {
  const content = (result as { content?: Array<{ text?: string }> }).content ?? [];
  if ((result as { isError?: boolean }).isError === true) throw new Error(`tool error: ${textOf(result)}`);
  return content.map((item) => item.text ?? '').join('\n');
}

/** Connects `era`'s client to the proxy at `base`; `connectMs` bounds the handshake (or discover). */
export async function connectEra(era: Era, base: string, headers: Record<string, string>, connectMs: number): Promise<FieldClient> {
  return era.startsWith('sdk1') ? connectSdk1(era, base, headers, connectMs) : connectV2(era, base, headers, connectMs);
}

/**
 * SDK 1.32 runs a notification's handler a microtask late but handles a response at once (and drops
 * the call's progress handler then); its legacy SSE transport dispatches every event of one network
 * chunk synchronously. A progress notification read in the same chunk as its call's response is so
 * dropped as "unknown token" (typescript-sdk#2580), by any server: server-everything's own SSE server
 * loses its last one on every call. The proxy's frames are in order, and the matrix judges the proxy:
 * hand the SDK each response a microtask later, so the notifications before it are handled first.
 */
function handleInArrivalOrder(transport: Transport): void {
  const deliver = transport.onmessage;
  if (deliver === undefined) throw new Error('the SDK client did not take the transport\'s messages');
  transport.onmessage = (msg, extra) => {
    if ('method' in msg) deliver(msg, extra);
    else queueMicrotask(() => deliver(msg, extra));
  };
}

async function connectSdk1(era: Era, base: string, headers: Record<string, string>, connectMs: number): Promise<FieldClient> {
  const { client, transport } = await connectClient(base, era === 'sdk1-sse' ? 'sse' : 'streamable', {
    headers, name: `field-${era}`, capabilities: { sampling: {}, elicitation: {} }, connectMs,
  });
  if (era === 'sdk1-sse') handleInArrivalOrder(transport);
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => sampled(req.params as never));
  client.setRequestHandler(ElicitRequestSchema, async (req) => elicited(req.params as never));
  return {
    era,
    version: era === 'sdk1-sse' ? 'sse' : 'streamable',
    listTools: async () => (await client.listTools()).tools.map((tool) => tool.name),
    call: async (name, args, options) => allText(await client.callTool({ name, arguments: args }, undefined, {
      timeout: options.timeoutMs,
      ...(options.onprogress === undefined ? {} : { onprogress: (p: { progress: number }) => options.onprogress!(p.progress) }),
    })),
    listenForLogs: async (onLog) => {
      client.setNotificationHandler(LoggingMessageNotificationSchema, (note) => onLog(note.params.data));
      if (client.getServerCapabilities()?.logging !== undefined) await client.setLoggingLevel('debug');
    },
    close: () => client.close(),
  };
}

async function connectV2(era: Era, base: string, headers: Record<string, string>, connectMs: number): Promise<FieldClient> {
  const isPinned = era === 'v2-2026-07-28';
  const client = new V2Client({ name: `field-${era}`, version: '1.0.0' }, {
    capabilities: { sampling: {}, elicitation: { form: {} } },
    ...(isPinned ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {}),
  });
  client.setRequestHandler('sampling/createMessage', async (req) => sampled(req.params as never) as never);
  client.setRequestHandler('elicitation/create', async (req) => elicited(req.params as never));
  const transport = new V2Transport(new URL(`${base}/mcp`), { requestInit: { headers } });
  try {
    await withDeadline(client.connect(transport), connectMs, `connect ${era}`);
  } catch (err) {
    await client.close().catch(() => {});
    throw err;
  }
  let wantsLogs = false;
  return {
    era,
    version: client.getNegotiatedProtocolVersion(),
    listTools: async () => (await client.listTools()).tools.map((tool) => tool.name),
    call: async (name, args, options) => {
      const meta = options.wantLogs === true && isPinned && wantsLogs ? { _meta: { [LOG_LEVEL_KEY]: 'debug' } } : {};
      return allText(await client.callTool({ name, arguments: args, ...meta }, {
        timeout: options.timeoutMs,
        ...(options.onprogress === undefined ? {} : { onprogress: (p: { progress: number }) => options.onprogress!(p.progress) }),
      }));
    },
    listenForLogs: async (onLog) => {
      client.setNotificationHandler('notifications/message', (note) => onLog(note.params.data));
      wantsLogs = true;
      if (!isPinned && client.getServerCapabilities()?.logging !== undefined) await client.setLoggingLevel('debug');
    },
    close: () => client.close(),
  };
}
