/**
 * A 2026-07-28 stateless remote, as the MCP client: each request is its own POST with the headers the
 * spec requires to mirror the body (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`); the answer is
 * JSON or a stream scoped to that request. There is no session, no GET stream and no resumption:
 * closing the stream is the cancellation (spec: cancellation), and a stream that breaks loses its
 * request, which fails here. The ModernChildAdapter in front speaks legacy MCP to the Hub, as for a
 * modern stdio child.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { errorResponse, resultResponse, isObject, isRequest, isResponse, type JsonRpcId, type JsonRpcMessage, type JsonRpcRequest } from '../../protocol/message.ts';
import { RpcCode } from '../../protocol/errors.ts';
import { PROTOCOL_VERSION_KEY } from '../../protocol/meta-keys.ts';
import { isEventStream, readEventStream, readJsonAnswer } from './answer.ts';
import { call, discard, RemoteError } from './http-call.ts';
import type { RemoteTransport, TransportEvents, TransportOptions } from './transport.ts';

/** The headers a 2026-07-28 server checks against the body (non-ASCII values in the `=?base64?…?=` form). */
export function modernHeaders(req: JsonRpcRequest): OutgoingHttpHeaders {
  const params = isObject(req.params) ? req.params : {};
  const meta = isObject(params._meta) ? params._meta : {};
  const headers: OutgoingHttpHeaders = {
    accept: 'application/json, text/event-stream',
    'content-type': 'application/json',
    'mcp-method': headerValue(req.method),
  };
  if (typeof meta[PROTOCOL_VERSION_KEY] === 'string') headers['mcp-protocol-version'] = meta[PROTOCOL_VERSION_KEY];
  const name = req.method === 'resources/read' ? params.uri : req.method === 'tools/call' || req.method === 'prompts/get' ? params.name : undefined;
  if (typeof name === 'string') headers['mcp-name'] = headerValue(name);
  return headers;
}

function headerValue(value: string): string {
  const isSafe = /^[\x20-\x7e]*$/.test(value) && value.trim() === value && !value.startsWith('=?');
  return isSafe ? value : `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

export class StatelessClient implements RemoteTransport {
  #opts: TransportOptions;
  #events: TransportEvents;
  #state: 'open' | 'lost' | 'closed' = 'open';
  /** Each request in flight by its id: aborting it closes its stream, which cancels it at the server. */
  #inFlight = new Map<JsonRpcId, AbortController>();
  #discover: JsonRpcRequest;

  /** `discover`: the probe request that found this server modern; sent again to check it is back. */
  constructor(opts: TransportOptions, events: TransportEvents, discover: JsonRpcRequest) {
    this.#opts = opts;
    this.#events = events;
    this.#discover = discover;
  }

  async connect(): Promise<void> {
    const res = await call(this.#opts.target, { method: 'POST', headers: modernHeaders(this.#discover), body: JSON.stringify(this.#discover) });
    discard(res);
    if (res.statusCode !== 200) throw new RemoteError(`answered server/discover with HTTP ${res.statusCode}`);
  }

  send(msg: JsonRpcMessage): boolean {
    if (this.#state !== 'open') return false;
    if (isRequest(msg)) {
      void this.#request(msg);
      return true;
    }
    if (!isResponse(msg) && msg.method === 'notifications/cancelled' && isObject(msg.params)) {
      const requestId = msg.params.requestId;
      if (typeof requestId === 'string' || typeof requestId === 'number') this.#inFlight.get(requestId)?.abort();
    }
    // Nothing else a client sends has meaning over stateless HTTP (no responses: a modern server never asks).
    return true;
  }

  async close(): Promise<void> {
    this.#state = 'closed';
    for (const abort of this.#inFlight.values()) abort.abort();
    this.#inFlight.clear();
  }

  async #request(req: JsonRpcRequest): Promise<void> {
    const abort = new AbortController();
    this.#inFlight.set(req.id, abort);
    try {
      await this.#exchange(req, abort.signal);
    } finally {
      if (this.#inFlight.get(req.id) === abort) this.#inFlight.delete(req.id);
    }
  }

  async #exchange(req: JsonRpcRequest, signal: AbortSignal): Promise<void> {
    let res: IncomingMessage;
    try {
      res = await call({ ...this.#opts.target, timeoutMs: this.#opts.requestTimeoutMs }, { method: 'POST', headers: modernHeaders(req), body: JSON.stringify(req), signal });
    } catch (err) {
      if (signal.aborted) return; // cancelled by the client: nothing more is owed
      const reason = (err as Error).message;
      if (reason.startsWith('no answer within')) return this.#fail(req.id, `remote ${reason}`);
      return this.#lose(reason);
    }
    if (res.statusCode! >= 500) {
      discard(res);
      return this.#lose(`answered HTTP ${res.statusCode}`);
    }
    let isAnswered = false;
    const deliver = (msg: JsonRpcMessage): void => {
      if (isResponse(msg) && msg.id === req.id) isAnswered = true;
      if (this.#state === 'open') this.#events.message(msg);
    };
    // 4xx answers carry the JSON-RPC error (-32020, -32022, …) in the body: delivered like any answer.
    if (isEventStream(res)) await readEventStream(res, this.#opts.maxMessageBytes, undefined, { message: deliver });
    else await readJsonAnswer(res, this.#opts.maxMessageBytes, deliver).catch(() => {});
    if (isAnswered || signal.aborted) return;
    // A listen whose stream dropped has simply ended: told so, the adapter opens a new one.
    if (req.method === 'subscriptions/listen') return deliver(resultResponse(req.id, { resultType: 'complete' }));
    this.#fail(req.id, `the remote answer ended without a response (HTTP ${res.statusCode})`);
  }

  #fail(requestId: JsonRpcId, message: string): void {
    if (this.#state === 'open') this.#events.message(errorResponse(requestId, RpcCode.serverError, message));
  }

  #lose(reason: string): void {
    if (this.#state !== 'open') return;
    this.#state = 'lost';
    for (const abort of this.#inFlight.values()) abort.abort();
    this.#events.lost(reason);
  }
}
