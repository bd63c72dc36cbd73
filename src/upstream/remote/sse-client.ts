/**
 * A 2024-11-05 HTTP+SSE session with a remote server: one GET stream whose first event names the POST
 * endpoint (resolved against the stream's URL, same origin only, as the SDK client insists), replies on
 * that stream, each message POSTed and answered 202. The transport has no resumption: a dropped stream
 * is a lost session, and the owner reconnects and initializes again.
 */
import type { IncomingMessage } from 'node:http';
import { errorResponse, isRequest, type JsonRpcId, type JsonRpcMessage } from '../../protocol/message.ts';
import { RpcCode } from '../../protocol/errors.ts';
import { isEventStream, readEventStream } from './answer.ts';
import { call, discard, RemoteError } from './http-call.ts';
import type { RemoteTransport, TransportEvents, TransportOptions } from './transport.ts';

export class SseClient implements RemoteTransport {
  #opts: TransportOptions;
  #events: TransportEvents;
  #state: 'connecting' | 'open' | 'lost' | 'closed' = 'connecting';
  #abort = new AbortController();
  #endpoint: URL | undefined;
  #version: string | undefined;

  constructor(opts: TransportOptions, events: TransportEvents) {
    this.#opts = opts;
    this.#events = events;
  }

  async connect(): Promise<void> {
    const res = await call(this.#opts.target, { method: 'GET', headers: { accept: 'text/event-stream' }, signal: this.#abort.signal });
    if (res.statusCode !== 200 || !isEventStream(res)) {
      discard(res);
      throw new RemoteError(`answered the event stream request with HTTP ${res.statusCode}`);
    }
    await new Promise<void>((resolve, reject) => {
      const ended = readEventStream(res, this.#opts.maxMessageBytes, undefined, {
        endpoint: (uri) => {
          const endpoint = this.#resolveEndpoint(uri);
          if (endpoint === undefined) {
            res.destroy();
            return reject(new RemoteError('sent an endpoint on another origin'));
          }
          this.#endpoint = endpoint;
          this.#state = 'open';
          resolve();
        },
        message: (msg) => {
          if (this.#state === 'open') this.#events.message(msg);
        },
      });
      void ended.then((end) => {
        reject(new RemoteError(`the event stream ended before the endpoint event${end.error === undefined ? '' : ` (${end.error})`}`));
        this.#lose(`the event stream ended${end.error === undefined ? '' : ` (${end.error})`}`);
      });
    });
  }

  send(msg: JsonRpcMessage): boolean {
    if (this.#state !== 'open') return false;
    if (isRequest(msg) && msg.method === 'initialize' && typeof msg.params?.protocolVersion === 'string') {
      this.#version = msg.params.protocolVersion as string;
    }
    void this.#post(msg);
    return true;
  }

  async close(): Promise<void> {
    this.#state = 'closed';
    this.#abort.abort();
  }

  #resolveEndpoint(uri: string): URL | undefined {
    try {
      const url = new URL(uri, this.#opts.target.url);
      return url.origin === this.#opts.target.url.origin ? url : undefined;
    } catch {
      return undefined;
    }
  }

  async #post(msg: JsonRpcMessage): Promise<void> {
    const requestId: JsonRpcId | undefined = isRequest(msg) ? msg.id : undefined;
    let res: IncomingMessage;
    try {
      res = await call(this.#opts.target, {
        method: 'POST', url: this.#endpoint, signal: this.#abort.signal, body: JSON.stringify(msg),
        headers: { 'content-type': 'application/json', ...(this.#version === undefined ? {} : { 'mcp-protocol-version': this.#version }) },
      });
    } catch (err) {
      return this.#lose((err as Error).message);
    }
    discard(res);
    const status = res.statusCode!;
    if (status === 404) return this.#lose('the remote session ended (HTTP 404)');
    if (status >= 500) return this.#lose(`answered HTTP ${status}`);
    if (status >= 300 && requestId !== undefined) {
      this.#events.message(errorResponse(requestId, RpcCode.serverError, `remote refused the request (HTTP ${status})`));
    }
  }

  #lose(reason: string): void {
    if (this.#state !== 'open') return;
    this.#state = 'lost';
    this.#abort.abort();
    this.#events.lost(reason);
  }
}
