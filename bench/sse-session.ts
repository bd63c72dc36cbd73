// Legacy HTTP+SSE sessions for the bench: a full session, and bare idle streams for the memory phase.
import http from 'node:http';
import net from 'node:net';
import { BenchError, SSE_PROTOCOL_VERSION, PendingMap, parseMessages, readBody, snippet, handshake, type JsonRpcMessage, type McpSession } from './client.ts';
import { SseParser } from './sse-parser.ts';

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
