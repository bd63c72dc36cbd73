// Streamable HTTP sessions for the bench.
import http from 'node:http';
import { BenchError, PROTOCOL_VERSION, parseMessages, readBody, snippet, handshake, type JsonRpcMessage, type McpSession } from './client.ts';
import { SseParser } from './sse-parser.ts';


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
