/**
 * Helpers for the independent-mode and hardening tests: raw HTTP requests (repeated headers, any
 * method, no fetch normalisation), a hand-driven Streamable HTTP session, a minimal legacy SSE
 * session read with a line buffer, and process checks that treat a zombie as gone (PID 1 in some
 * containers never reaps orphans). Every wait has a deadline.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { eventually, textOf } from './proxy.ts';

export const LATEST_VERSION = '2025-11-25';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

/**
 * One HTTP request with node:http. `headers` values may be arrays (sent as repeated header lines).
 * Resolves with the whole answer; rejects after `ms`.
 */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string | string[]>; body?: string | Buffer; ms?: number } = {},
): Promise<RawResponse> {
  const ms = options.ms ?? 10_000;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, timeout: ms }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${options.method ?? 'GET'} ${url}: no answer within ${ms} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The JSON-RPC error object of a body. */
export function rpcErrorOf(json: unknown): { code: number; message: string } | undefined {
  return (json as { error?: { code: number; message: string } } | undefined)?.error;
}

const STREAMABLE_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** The JSON-RPC message(s) of a Streamable HTTP answer, whether sent as JSON or as an SSE stream. */
function messagesOf(res: RawResponse): unknown[] {
  if (String(res.headers['content-type']).startsWith('text/event-stream')) {
    return parseSse(res.text).filter((e) => e.data !== '').map((e) => JSON.parse(e.data) as unknown);
  }
  return res.json === undefined ? [] : [res.json];
}

/** A Streamable HTTP session driven by hand (no standalone GET stream, so it can go idle). */
export class RawStreamable {
  readonly base: string;
  sessionId: string | undefined;
  #nextId = 1;
  #headers: Record<string, string | string[]>;

  constructor(base: string, headers: Record<string, string | string[]> = {}) {
    this.base = base;
    this.#headers = headers;
  }

  /** POSTs `initialize` (with this object's headers and `query`) and `notifications/initialized`. */
  async initialize(query = ''): Promise<RawResponse> {
    const res = await this.post({ jsonrpc: '2.0', id: this.#nextId++, method: 'initialize', params: initParams() }, query);
    if (res.status === 200) {
      this.sessionId = String(res.headers['mcp-session-id']);
      await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    }
    return res;
  }

  post(message: unknown, query = ''): Promise<RawResponse> {
    const headers: Record<string, string | string[]> = { ...STREAMABLE_HEADERS, ...this.#headers };
    if (this.sessionId !== undefined) headers['mcp-session-id'] = this.sessionId;
    return rawRequest(`${this.base}/mcp${query}`, { method: 'POST', headers, body: JSON.stringify(message) });
  }

  /** A tools/call; resolves with the HTTP answer and its final JSON-RPC message. */
  async call(name: string, args: Record<string, unknown> = {}): Promise<{ res: RawResponse; message: unknown }> {
    const id = this.#nextId++;
    const res = await this.post({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
    const message = messagesOf(res).find((m) => (m as { id?: unknown }).id === id);
    return { res, message };
  }

  /** The first text of a tools/call result, parsed as JSON. */
  async callJson<T>(name: string, args: Record<string, unknown> = {}): Promise<T> {
    const { res, message } = await this.call(name, args);
    if (message === undefined) throw new Error(`${name}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
    return JSON.parse(textOf((message as { result: unknown }).result)) as T;
  }

  delete(): Promise<RawResponse> {
    return rawRequest(`${this.base}/mcp`, { method: 'DELETE', headers: { 'mcp-session-id': this.sessionId ?? '' } });
  }

  /** DELETE for cleanup: a proxy already stopped is not an error. */
  async dispose(): Promise<void> {
    if (this.sessionId !== undefined) await this.delete().catch(() => {});
  }
}

export function initParams(): Record<string, unknown> {
  return { protocolVersion: LATEST_VERSION, capabilities: {}, clientInfo: { name: 'ops-test', version: '1.0.0' } };
}

export interface SseEvent {
  event: string;
  data: string;
}

/** Parses complete SSE text (blank-line separated blocks; comments skipped). */
export function parseSse(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    let event = 'message';
    const data: string[] = [];
    let hasField = false;
    for (const line of block.split(/\r?\n/)) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      hasField = true;
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (hasField) events.push({ event, data: data.join('\n') });
  }
  return events;
}

/** A legacy `/sse` session opened by hand: events read with a line buffer, POSTs to its endpoint. */
export class RawSseSession {
  readonly status: number;
  postUrl = '';
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #abort: AbortController;
  #decoder = new TextDecoder();
  #buffer = '';
  #events: SseEvent[] = [];
  isEnded = false;

  private constructor(status: number, abort: AbortController, reader: ReadableStreamDefaultReader<Uint8Array> | undefined) {
    this.status = status;
    this.#abort = abort;
    this.#reader = reader;
  }

  /** GET /sse`query`; on 200 waits for the endpoint event. */
  static async open(base: string, query = '', headers: Record<string, string> = {}): Promise<RawSseSession> {
    const abort = new AbortController();
    const res = await fetch(`${base}/sse${query}`, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
    if (res.status !== 200) {
      await res.body?.cancel();
      return new RawSseSession(res.status, abort, undefined);
    }
    const session = new RawSseSession(res.status, abort, res.body!.getReader());
    const endpoint = await session.next(10_000);
    if (endpoint?.event !== 'endpoint') throw new Error(`first event was not endpoint: ${JSON.stringify(endpoint)}`);
    session.postUrl = new URL(endpoint.data, `${base}/sse`).toString();
    return session;
  }

  /** The next event; undefined when the server ended the stream. Rejects after `ms`. */
  async next(ms = 10_000): Promise<SseEvent | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const event = this.#events.shift();
      if (event !== undefined) return event;
      if (this.isEnded) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('SSE: no event within the deadline');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(resolve, left, 'timeout'); });
      let chunk: { done: boolean; value?: Uint8Array } | 'timeout';
      try {
        chunk = await Promise.race([this.#reader!.read(), timeout]);
      } catch {
        chunk = { done: true, value: undefined };
      } finally {
        clearTimeout(timer);
      }
      if (chunk === 'timeout') continue;
      if (chunk.done) this.isEnded = true;
      else this.#buffer += this.#decoder.decode(chunk.value!, { stream: true });
      const end = this.#buffer.lastIndexOf('\n\n');
      if (end !== -1) {
        this.#events.push(...parseSse(this.#buffer.slice(0, end)));
        this.#buffer = this.#buffer.slice(end + 2);
      }
    }
  }

  /** The next `message` event whose JSON has `id`; heartbeats and notifications are skipped. */
  async reply(id: unknown, ms = 10_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const event = await this.next(Math.max(1, deadline - Date.now()));
      if (event === undefined) throw new Error(`SSE stream ended before the reply to ${String(id)}`);
      if (event.event !== 'message') continue;
      const msg = JSON.parse(event.data) as Record<string, unknown>;
      if (msg.id === id) return msg;
    }
  }

  /** Resolves once the server ends the stream (events in between are dropped). */
  async ended(ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while ((await this.next(Math.max(1, deadline - Date.now()))) !== undefined);
  }

  send(message: unknown): Promise<RawResponse> {
    return rawRequest(this.postUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(message) });
  }

  /** initialize + notifications/initialized. */
  async initialize(): Promise<void> {
    await this.send({ jsonrpc: '2.0', id: 'init', method: 'initialize', params: initParams() });
    const reply = await this.reply('init');
    if (reply.result === undefined) throw new Error(`initialize failed: ${JSON.stringify(reply)}`);
    await this.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  }

  close(): void {
    this.#abort.abort();
    this.isEnded = true;
  }
}

/** True while `pid` is a live process; a zombie (exited, not reaped) counts as gone. */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Waits until none of `pids` runs. */
export function allGone(pids: number[], ms: number, what: string): Promise<void> {
  return eventually(() => pids.every((pid) => !isRunning(pid)), ms, `${what}: pids ${pids.join(',')} still running`);
}

/** SIGKILLs whatever of `pids` still runs (test cleanup, so a failure leaves nothing behind). */
export function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** A tools/call through an SDK client whose first text is JSON. */
export async function callJson<T>(client: Client, name: string, args: Record<string, unknown> = {}): Promise<T> {
  return JSON.parse(textOf(await client.callTool({ name, arguments: args }))) as T;
}

/** Resident set size of `pid` in bytes, from /proc/<pid>/status. */
export function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]) * 1024;
}
