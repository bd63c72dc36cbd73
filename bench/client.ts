// The one lean MCP client every target is measured with: node:http with a keep-alive Agent, our
// own incremental SSE parser, and a JSON-lines stdio client for the direct baseline. No SDK, so
// the client's cost is the same small constant for every target.
import http from 'node:http';
import net from 'node:net';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

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

const PROTOCOL_VERSION = '2025-06-18';
const SSE_PROTOCOL_VERSION = '2024-11-05';
const MAX_SSE_LINE_BYTES = 64 * 1024 * 1024;
const MAX_BODY_BYTES = 64 * 1024 * 1024;

export function makeAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024 });
}

// ---- SSE parsing ------------------------------------------------------------------------------

export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
}

/**
 * Incremental text/event-stream parser on bytes: lines end at LF, CRLF or CR (a CR at the end of a
 * chunk whose LF starts the next one is one line end); only whole lines are decoded, so a multi-byte
 * character split across chunks survives. A line over maxLineBytes is an error.
 */
export class SseParser {
  #parts: Buffer[] = [];
  #partBytes = 0;
  #skipLf = false;
  #event = '';
  #data: string[] = [];
  #id: string | undefined;
  #onEvent: (e: SseEvent) => void;
  #maxLineBytes: number;

  constructor(onEvent: (e: SseEvent) => void, maxLineBytes = MAX_SSE_LINE_BYTES) {
    this.#onEvent = onEvent;
    this.#maxLineBytes = maxLineBytes;
  }

  feed(chunk: Buffer): void {
    let start = 0;
    if (this.#skipLf && chunk.length > 0) {
      this.#skipLf = false;
      if (chunk[0] === 0x0a) start = 1;
    }
    for (let i = start; i < chunk.length; i++) {
      const b = chunk[i];
      if (b !== 0x0a && b !== 0x0d) continue;
      const piece = chunk.subarray(start, i);
      const line = this.#partBytes === 0 ? piece : Buffer.concat([...this.#parts, piece]);
      this.#parts = [];
      this.#partBytes = 0;
      this.#line(line.toString('utf8'));
      if (b === 0x0d) {
        if (i + 1 < chunk.length) {
          if (chunk[i + 1] === 0x0a) i++;
        } else {
          this.#skipLf = true;
        }
      }
      start = i + 1;
    }
    if (start < chunk.length) {
      this.#parts.push(chunk.subarray(start));
      this.#partBytes += chunk.length - start;
      if (this.#partBytes > this.#maxLineBytes) {
        throw new BenchError('BENCH_SSE_LINE_TOO_LONG', `SSE line over ${this.#maxLineBytes} bytes`);
      }
    }
  }

  #line(line: string): void {
    if (line === '') {
      if (this.#data.length > 0) {
        this.#onEvent({ event: this.#event || 'message', data: this.#data.join('\n'), id: this.#id });
      }
      this.#event = '';
      this.#data = [];
      return;
    }
    if (line.startsWith(':')) return; // comment / keep-alive
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
    else if (field === 'id') this.#id = value;
  }
}

// ---- shared pending-request bookkeeping ---------------------------------------------------------

interface Pending {
  resolve(m: JsonRpcMessage): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** Pending requests of one session: each settles exactly once (reply, timeout, or close). */
class PendingMap {
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

function parseMessages(text: string): JsonRpcMessage[] {
  const v: unknown = JSON.parse(text);
  const list = Array.isArray(v) ? v : [v];
  return list.filter((m): m is JsonRpcMessage => typeof m === 'object' && m !== null);
}

function readBody(res: http.IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<Buffer> {
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

function snippet(b: Buffer): string {
  return b.toString('utf8', 0, Math.min(b.length, 200)).replaceAll('\n', '\\n');
}

/**
 * initialize + notifications/initialized; `onResult` sees the result before `initialized` is sent.
 * The session is closed when the handshake fails, so no half-open session outlives the error.
 */
async function handshake(session: McpSession, protocolVersion: string, timeoutMs: number, onResult?: (result: unknown) => void): Promise<void> {
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

// ---- legacy HTTP+SSE ----------------------------------------------------------------------------

/** Legacy HTTP+SSE session: GET the stream, POST to the endpoint it names, replies on the stream. */
export class SseSession implements McpSession {
  #agent: http.Agent;
  #req: http.ClientRequest;
  #postUrl: URL | undefined;
  #pending = new PendingMap();
  #nextId = 0;
  #state: 'open' | 'closed' = 'open';

  private constructor(agent: http.Agent, req: http.ClientRequest) {
    this.#agent = agent;
    this.#req = req;
  }

  get strays(): number {
    return this.#pending.strays;
  }

  /** Opens the stream and waits for its `endpoint` event, then runs the initialize handshake. */
  static async open(baseUrl: string, agent: http.Agent, timeoutMs: number, ssePath = '/sse'): Promise<SseSession> {
    const url = new URL(ssePath, baseUrl);
    let session: SseSession | undefined;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        req.destroy(new BenchError('BENCH_TIMEOUT', `GET ${url.pathname}: no endpoint event in ${timeoutMs} ms`));
      }, timeoutMs);
      // The stream holds its socket for the session's life: its own connection, not the pool's.
      const req = http.get(url, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode !== 200) {
          clearTimeout(timer);
          void readBody(res, 4096).catch(() => Buffer.alloc(0)).then((b) =>
            reject(new BenchError('BENCH_HTTP_STATUS', `GET ${url.pathname}: ${res.statusCode} ${snippet(b)}`)));
          return;
        }
        const s = new SseSession(agent, req);
        session = s;
        const parser = new SseParser((e) => {
          if (e.event === 'endpoint') {
            s.#postUrl = new URL(e.data, url);
            clearTimeout(timer);
            resolve();
          } else if (e.event === 'message') {
            s.#onMessage(e.data);
          }
        });
        res.on('data', (c: Buffer) => {
          try {
            parser.feed(c);
          } catch (err) {
            req.destroy(err as Error);
          }
        });
        res.on('close', () => {
          clearTimeout(timer);
          s.#state = 'closed';
          s.#pending.rejectAll(new BenchError('BENCH_STREAM_CLOSED', 'SSE stream closed'));
          reject(new BenchError('BENCH_STREAM_CLOSED', `GET ${url.pathname}: stream closed before endpoint event`));
        });
      });
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    if (session === undefined) throw new BenchError('BENCH_INTERNAL', 'no session');
    await handshake(session, SSE_PROTOCOL_VERSION, timeoutMs);
    return session;
  }

  #onMessage(data: string): void {
    let msgs: JsonRpcMessage[];
    try {
      msgs = parseMessages(data);
    } catch {
      this.#pending.strays++;
      return;
    }
    for (const m of msgs) this.#pending.settle(m);
  }

  #post(msg: JsonRpcMessage, timeoutMs: number): Promise<void> {
    const url = this.#postUrl;
    if (url === undefined || this.#state !== 'open') {
      return Promise.reject(new BenchError('BENCH_STREAM_CLOSED', 'session is closed'));
    }
    const body = JSON.stringify(msg);
    return new Promise((resolve, reject) => {
      const req = http.request(url, {
        method: 'POST',
        agent: this.#agent,
        timeout: timeoutMs,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      }, (res) => {
        if (res.statusCode === 202 || res.statusCode === 200) {
          res.resume();
          resolve();
        } else {
          void readBody(res, 4096).catch(() => Buffer.alloc(0)).then((b) =>
            reject(new BenchError('BENCH_HTTP_STATUS', `POST ${url.pathname}: ${res.statusCode} ${snippet(b)}`)));
        }
      });
      req.on('timeout', () => req.destroy(new BenchError('BENCH_TIMEOUT', `POST: no answer in ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  call(method: string, params: unknown, timeoutMs: number): Promise<JsonRpcMessage> {
    const id = this.#nextId++;
    const reply = this.#pending.add(id, timeoutMs, method);
    this.#post({ jsonrpc: '2.0', id, method, params }, timeoutMs).catch((err: Error) => this.#pending.rejectOne(id, err));
    return reply;
  }

  notify(method: string, params?: unknown): Promise<void> {
    return this.#post({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) }, 10_000);
  }

  async close(): Promise<void> {
    this.#state = 'closed';
    this.#req.destroy();
    this.#pending.rejectAll(new BenchError('BENCH_STREAM_CLOSED', 'session closed'));
  }
}

// ---- Streamable HTTP ----------------------------------------------------------------------------

/** Streamable HTTP session: every request is a POST whose reply is JSON or an SSE stream. */
export class StreamableSession implements McpSession {
  #agent: http.Agent;
  #url: URL;
  #sessionId: string | undefined;
  #protocolVersion: string | undefined;
  #nextId = 0;
  #strays = 0;
  #state: 'open' | 'closed' = 'open';
  #authorization: string | undefined;

  private constructor(url: URL, agent: http.Agent, authorization: string | undefined) {
    this.#url = url;
    this.#agent = agent;
    this.#authorization = authorization;
  }

  get strays(): number {
    return this.#strays;
  }

  /** `authorization` (e.g. `Bearer <key>`) goes on every request of the session. */
  static async open(baseUrl: string, agent: http.Agent, timeoutMs: number, mcpPath = '/mcp', authorization?: string): Promise<StreamableSession> {
    const s = new StreamableSession(new URL(mcpPath, baseUrl), agent, authorization);
    await handshake(s, PROTOCOL_VERSION, timeoutMs, (result) => {
      const version = (result as { protocolVersion?: unknown } | undefined)?.protocolVersion;
      s.#protocolVersion = typeof version === 'string' ? version : PROTOCOL_VERSION;
    });
    return s;
  }

  #headers(body: string): http.OutgoingHttpHeaders {
    const h: http.OutgoingHttpHeaders = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'content-length': Buffer.byteLength(body),
    };
    if (this.#sessionId !== undefined) h['mcp-session-id'] = this.#sessionId;
    if (this.#protocolVersion !== undefined) h['mcp-protocol-version'] = this.#protocolVersion;
    if (this.#authorization !== undefined) h.authorization = this.#authorization;
    return h;
  }

  /** POSTs one message; settles with the reply to `id` (undefined for a notification's 202). */
  #post(msg: JsonRpcMessage, timeoutMs: number): Promise<JsonRpcMessage | undefined> {
    if (this.#state !== 'open') return Promise.reject(new BenchError('BENCH_CLOSED', 'session is closed'));
    const body = JSON.stringify(msg);
    const id = msg.id;
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (err: Error | undefined, m?: JsonRpcMessage): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err !== undefined) reject(err);
        else resolve(m);
      };
      const req = http.request(this.#url, { method: 'POST', agent: this.#agent, headers: this.#headers(body) }, (res) => {
        const sid = res.headers['mcp-session-id'];
        if (typeof sid === 'string' && this.#sessionId === undefined) this.#sessionId = sid;
        const type = String(res.headers['content-type'] ?? '');
        if (res.statusCode === 202 && id === undefined) {
          res.resume();
          return done(undefined, undefined);
        }
        if (res.statusCode !== 200) {
          // A 429 is the rate limit saying no, which a flood phase counts as refused, not as an error.
          const code = res.statusCode === 429 ? 'BENCH_REFUSED' : 'BENCH_HTTP_STATUS';
          void readBody(res, 4096).catch(() => Buffer.alloc(0)).then((b) =>
            done(new BenchError(code, `POST ${this.#url.pathname} ${msg.method}: ${res.statusCode} ${snippet(b)}`)));
          return;
        }
        const onMsg = (m: JsonRpcMessage): void => {
          if (id !== undefined && m.method === undefined && m.id !== undefined && JSON.stringify(m.id) === JSON.stringify(id)) done(undefined, m);
          else if (m.method === undefined) this.#strays++;
        };
        if (type.startsWith('text/event-stream')) {
          const parser = new SseParser((e) => {
            if (e.event !== 'message') return;
            try {
              for (const m of parseMessages(e.data)) onMsg(m);
            } catch {
              this.#strays++;
            }
          });
          res.on('data', (c: Buffer) => {
            try {
              parser.feed(c);
            } catch (err) {
              res.destroy(err as Error);
            }
          });
          res.on('close', () => done(id === undefined ? undefined
            : new BenchError('BENCH_NO_REPLY', `${msg.method}: SSE reply stream ended without a reply`)));
        } else {
          readBody(res).then((b) => {
            if (b.length === 0) return done(id === undefined ? undefined : new BenchError('BENCH_NO_REPLY', `${msg.method}: empty 200 body`));
            try {
              for (const m of parseMessages(b.toString('utf8'))) onMsg(m);
            } catch {
              return done(new BenchError('BENCH_BAD_JSON', `${msg.method}: bad JSON body ${snippet(b)}`));
            }
            done(new BenchError('BENCH_NO_REPLY', `${msg.method}: JSON body held no reply to id ${JSON.stringify(id)}`));
          }, (err: Error) => done(err));
        }
      });
      const timer = setTimeout(() => {
        const err = new BenchError('BENCH_TIMEOUT', `${msg.method}: no reply in ${timeoutMs} ms`);
        req.destroy(err);
        done(err);
      }, timeoutMs);
      req.on('error', (err) => done(err));
      req.end(body);
    });
  }

  async call(method: string, params: unknown, timeoutMs: number): Promise<JsonRpcMessage> {
    const reply = await this.#post({ jsonrpc: '2.0', id: this.#nextId++, method, params }, timeoutMs);
    if (reply === undefined) throw new BenchError('BENCH_NO_REPLY', `${method}: 202 for a request`);
    return reply;
  }

  async notify(method: string, params?: unknown): Promise<void> {
    await this.#post({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) }, 10_000);
  }

  /** DELETEs the session (best effort, bounded) so per-session children are released. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    if (this.#sessionId === undefined) return;
    const headers: http.OutgoingHttpHeaders = { 'mcp-session-id': this.#sessionId };
    if (this.#protocolVersion !== undefined) headers['mcp-protocol-version'] = this.#protocolVersion;
    if (this.#authorization !== undefined) headers.authorization = this.#authorization;
    await new Promise<void>((resolve) => {
      const req = http.request(this.#url, { method: 'DELETE', agent: this.#agent, headers, timeout: 5_000 }, (res) => {
        res.resume();
        res.on('close', () => resolve());
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve());
      req.end();
    });
  }
}

// ---- direct stdio baseline ----------------------------------------------------------------------

/** The floor: the fixture spawned directly, JSON lines on its stdin/stdout, no HTTP at all. */
export class StdioSession implements McpSession {
  #child: ChildProcessWithoutNullStreams;
  #pending = new PendingMap();
  #nextId = 0;
  #parts: Buffer[] = [];
  #partBytes = 0;
  #exited: Promise<void>;

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('close', () => resolve()));
    child.stdout.on('data', (c: Buffer) => this.#onData(c));
    child.stderr.resume();
    child.once('close', () => this.#pending.rejectAll(new BenchError('BENCH_CHILD_EXIT', 'child exited')));
    child.stdin.on('error', () => {}); // EPIPE after the child died: surfaced by its 'close'
  }

  get strays(): number {
    return this.#pending.strays;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** onSpawn lets the caller register the child for cleanup before the handshake can fail. */
  static async open(cmd: string, args: string[], timeoutMs: number, onSpawn?: (child: ChildProcessWithoutNullStreams) => void): Promise<StdioSession> {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    onSpawn?.(child);
    const s = new StdioSession(child);
    await handshake(s, PROTOCOL_VERSION, timeoutMs);
    return s;
  }

  #onData(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      const piece = chunk.subarray(start, nl);
      const line = this.#partBytes === 0 ? piece : Buffer.concat([...this.#parts, piece]);
      this.#parts = [];
      this.#partBytes = 0;
      start = nl + 1;
      try {
        for (const m of parseMessages(line.toString('utf8'))) this.#pending.settle(m);
      } catch {
        this.#pending.strays++;
      }
    }
    if (start < chunk.length) {
      this.#parts.push(chunk.subarray(start));
      this.#partBytes += chunk.length - start;
    }
  }

  #write(msg: JsonRpcMessage): void {
    this.#child.stdin.write(JSON.stringify(msg) + '\n');
  }

  call(method: string, params: unknown, timeoutMs: number): Promise<JsonRpcMessage> {
    const id = this.#nextId++;
    const reply = this.#pending.add(id, timeoutMs, method);
    this.#write({ jsonrpc: '2.0', id, method, params });
    return reply;
  }

  async notify(method: string, params?: unknown): Promise<void> {
    this.#write({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) });
  }

  /** Ends stdin (the fixture exits on EOF), then SIGKILL if it has not gone within 2 s. */
  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.stdin.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 2_000);
    await this.#exited;
    clearTimeout(timer);
  }
}

// ---- idle SSE sessions ----------------------------------------------------------------------------

/**
 * Opens a bare SSE stream on a raw socket and resolves once the `endpoint` event arrived; the
 * socket then just sits there. Cheap enough to hold 10,000 on the client side.
 */
export function openIdleSse(host: string, port: number, timeoutMs: number, ssePath = '/sse'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let seen = '';
    let done = false;
    const timer = setTimeout(() => fail(new BenchError('BENCH_TIMEOUT', `idle SSE: no endpoint event in ${timeoutMs} ms`)), timeoutMs);
    function fail(err: Error): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    }
    sock.setEncoding('latin1');
    sock.on('connect', () => {
      sock.write(`GET ${ssePath} HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/event-stream\r\n\r\n`);
    });
    sock.on('data', (d: string) => {
      if (done) return; // keep reading (never apply backpressure) but ignore the rest
      seen += d;
      if (!seen.startsWith('HTTP/1.1 200')) {
        if (seen.length >= 12) fail(new BenchError('BENCH_HTTP_STATUS', `idle SSE: ${seen.slice(0, 40)}`));
        return;
      }
      const at = seen.indexOf('event: endpoint');
      if (at !== -1 && seen.indexOf('\n\n', at) !== -1) {
        done = true;
        clearTimeout(timer);
        seen = '';
        resolve(sock);
      }
    });
    sock.on('error', fail);
    sock.on('close', () => fail(new BenchError('BENCH_STREAM_CLOSED', 'idle SSE: closed before endpoint event')));
  });
}
