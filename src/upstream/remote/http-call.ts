/**
 * One HTTP request to a remote MCP server on node:http/node:https: headers merged over the member's
 * own, TLS verified (with the member's private CA if it has one), the wait for response headers
 * bounded, and every failure turned into a RemoteError whose message says what went wrong without
 * echoing the server's body.
 */
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tracing } from '../../trace/tracer.ts';

export interface RemoteTarget {
  url: URL;
  /** The member's configured headers (already expanded), sent on every request. */
  headers: Record<string, string>;
  /** PEM text of a private CA for this member; undefined: the system's roots. */
  ca: string | undefined;
  /** How long a request waits for connection and response headers. */
  timeoutMs: number;
}

/** A request that got no usable answer (network, TLS, timeout, a status the caller cannot use): worth retrying. */
export class RemoteError extends Error {}

export interface CallOptions {
  method: 'GET' | 'POST' | 'DELETE';
  url?: URL;
  headers?: OutgoingHttpHeaders;
  body?: string;
  signal?: AbortSignal;
}

/** Sends one request; resolves with the response once its headers arrive (any status), rejects with a RemoteError. */
export function call(target: RemoteTarget, opts: CallOptions): Promise<IncomingMessage> {
  const url = opts.url ?? target.url;
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  // A message's POST runs within its round trip's span (trace/round-trips.ts): the remote continues the trace.
  const headers: OutgoingHttpHeaders = { ...target.headers, ...opts.headers, ...(opts.method === 'POST' ? tracing.headers() : undefined) };
  if (opts.body !== undefined) headers['content-length'] = Buffer.byteLength(opts.body);
  return new Promise((resolve, reject) => {
    const req = send(url, { method: opts.method, headers, ca: target.ca, signal: opts.signal }, (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    // Bounds connect + TLS + the server's time to first byte; a streamed body has no overall bound.
    const timer = setTimeout(() => req.destroy(new RemoteError(`no answer within ${target.timeoutMs} ms`)), target.timeoutMs);
    req.once('error', (err) => {
      clearTimeout(timer);
      reject(err instanceof RemoteError ? err : new RemoteError(describeNetError(err)));
    });
    req.end(opts.body);
  });
}

/** Reads a whole (non-streamed) response body, at most `maxBytes`; past it the response is cut. */
export async function readBody(res: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      res.destroy();
      throw new RemoteError(`answer larger than ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Drains and discards a body we do not need, so the socket can be reused. */
export function discard(res: IncomingMessage): void {
  res.resume();
  res.on('error', () => {});
}

/** `connect ECONNREFUSED 127.0.0.1:1`, `TLS: self-signed certificate`, … without stack or body. */
export function describeNetError(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (err.name === 'AbortError') return 'request aborted';
  if (code !== undefined && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) return `TLS: ${err.message}`;
  return err.message === '' ? (code ?? 'network error') : err.message;
}

/** The response's media type without parameters, lower-case. */
export function mediaType(res: IncomingMessage): string {
  return (res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}
