// The one lean MCP client every target is measured with, and what its sessions share: node:http with a
// keep-alive Agent, pending-request bookkeeping, bounded body reads and the handshake. No SDK, so the
// client's cost is the same small constant for every target. The sessions: sse-session.ts,
// streamable-session.ts, stdio-session.ts (the direct baseline); the SSE parser: sse-parser.ts.
import http from 'node:http';

export type JsonRpcId = string | number;
export interface JsonRpcMessage {
  jsonrpc: '2.0';
  id?: JsonRpcId | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** One MCP client session over some transport; ids are per session, starting at 0 like real clients. */
export interface McpSession {
  /** Sends a request and settles with its response, or rejects after timeoutMs. */
  call(method: string, params: unknown, timeoutMs: number): Promise<JsonRpcMessage>;
  notify(method: string, params?: unknown): Promise<void>;
  /** Replies that matched no pending request of this session (e.g. another client's reply). */
  readonly strays: number;
  close(): Promise<void>;
}

export class BenchError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export const PROTOCOL_VERSION = '2025-06-18';
export const SSE_PROTOCOL_VERSION = '2024-11-05';
export const MAX_SSE_LINE_BYTES = 64 * 1024 * 1024;
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

export function makeAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024 });
}

interface Pending {
  resolve(m: JsonRpcMessage): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** Pending requests of one session: each settles exactly once (reply, timeout, or close). */
export class PendingMap {
  #map = new Map<string, Pending>();
  strays = 0;

  add(id: JsonRpcId, timeoutMs: number, what: string): Promise<JsonRpcMessage> {
    const key = JSON.stringify(id);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#map.delete(key);
        reject(new BenchError('BENCH_TIMEOUT', `${what} id=${key}: no reply in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#map.set(key, { resolve, reject, timer });
    });
  }

  /** Routes a reply; false if it matched nothing pending. */
  settle(msg: JsonRpcMessage): boolean {
    if (msg.id === undefined || msg.id === null || msg.method !== undefined) return false;
    const key = JSON.stringify(msg.id);
    const p = this.#map.get(key);
    if (p === undefined) {
      this.strays++;
      return false;
    }
    this.#map.delete(key);
    clearTimeout(p.timer);
    p.resolve(msg);
    return true;
  }

  rejectOne(id: JsonRpcId, err: Error): void {
    const key = JSON.stringify(id);
    const p = this.#map.get(key);
    if (p === undefined) return;
    this.#map.delete(key);
    clearTimeout(p.timer);
    p.reject(err);
  }

  rejectAll(err: Error): void {
    for (const p of this.#map.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.#map.clear();
  }
}

export function parseMessages(text: string): JsonRpcMessage[] {
  const v: unknown = JSON.parse(text);
  const list = Array.isArray(v) ? v : [v];
  return list.filter((m): m is JsonRpcMessage => typeof m === 'object' && m !== null);
}

export function readBody(res: http.IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    res.on('data', (c: Buffer) => {
      n += c.length;
      if (n > maxBytes) res.destroy(new BenchError('BENCH_BODY_TOO_LARGE', `body over ${maxBytes} bytes`));
      else parts.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(parts)));
    res.on('error', reject);
    res.on('close', () => {
      if (!res.complete) reject(new BenchError('BENCH_BODY_CUT', 'response closed before its end'));
    });
  });
}

export function snippet(b: Buffer): string {
  return b.toString('utf8', 0, Math.min(b.length, 200)).replaceAll('\n', '\\n');
}

/**
 * initialize + notifications/initialized; `onResult` sees the result before `initialized` is sent.
 * The session is closed when the handshake fails, so no half-open session outlives the error.
 */
export async function handshake(session: McpSession, protocolVersion: string, timeoutMs: number, onResult?: (result: unknown) => void): Promise<void> {
  try {
    const params = { protocolVersion, capabilities: {}, clientInfo: { name: 'mcpproxy-bench', version: '1.0.0' } };
    const init = await session.call('initialize', params, timeoutMs);
    if (init.error !== undefined) throw new BenchError('BENCH_INIT', `initialize failed: ${init.error.message}`);
    onResult?.(init.result);
    await session.notify('notifications/initialized');
  } catch (err) {
    await session.close();
    throw err;
  }
}
