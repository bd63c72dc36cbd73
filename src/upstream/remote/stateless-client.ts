/**
 * A 2026-07-28 stateless remote, as the MCP client: each request is its own POST with the headers the
 * spec requires to mirror the body (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`, and on a
 * `tools/call` the `Mcp-Param-*` its tool's schema declares); the answer is JSON or a stream scoped to
 * that request. There is no session, no GET stream and no resumption:
 * closing the stream is the cancellation (spec: cancellation), and a stream that breaks loses its
 * request, which fails here. The ModernChildAdapter in front speaks legacy MCP to the Hub, as for a
 * modern stdio child.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import {
  errorResponse, resultResponse, isObject, isRequest, isResponse, type JsonObject, type JsonRpcId, type JsonRpcMessage, type JsonRpcRequest,
} from '../../protocol/message.ts';
import { RpcCode } from '../../protocol/errors.ts';
import { encodeHeaderValue } from '../../protocol/header-values.ts';
import { CLIENT_CAPABILITIES_KEY, CLIENT_INFO_KEY, PROTOCOL_VERSION_KEY } from '../../protocol/meta-keys.ts';
import type { ParamHeaderRegistry } from '../../protocol/param-headers.ts';
import { readAnswer } from './answer.ts';
import { call, discard, RemoteError } from './http-call.ts';
import type { RemoteTransport, TransportEvents, TransportOptions } from './transport.ts';

/** The headers a 2026-07-28 server checks against the body (non-ASCII values in the `=?base64?…?=` form). */
export function modernHeaders(req: JsonRpcRequest): OutgoingHttpHeaders {
  const params = isObject(req.params) ? req.params : {};
  const meta = isObject(params._meta) ? params._meta : {};
  const headers: OutgoingHttpHeaders = {
    accept: 'application/json, text/event-stream',
    'content-type': 'application/json',
    'mcp-method': encodeHeaderValue(req.method),
  };
  if (typeof meta[PROTOCOL_VERSION_KEY] === 'string') headers['mcp-protocol-version'] = meta[PROTOCOL_VERSION_KEY];
  const name = req.method === 'resources/read' ? params.uri : req.method === 'tools/call' || req.method === 'prompts/get' ? params.name : undefined;
  if (typeof name === 'string') headers['mcp-name'] = encodeHeaderValue(name);
  return headers;
}

/** The client's own tools/list ids: strings, so they never meet the Hub's numeric ones. */
const LIST_ID = '~mcpproxy-tools-';
/** Pages read of a tool list the client reads for itself; a server that cycles its cursors stops here. */
const MAX_LIST_PAGES = 50;

export class StatelessClient implements RemoteTransport {
  #opts: TransportOptions;
  #events: TransportEvents;
  #state: 'open' | 'lost' | 'closed' = 'open';
  /** Each request in flight by its id: aborting it closes its stream, which cancels it at the server. */
  #inFlight = new Map<JsonRpcId, AbortController>();
  #discover: JsonRpcRequest;
  #declarations: ParamHeaderRegistry;
  /** The tool list being read for calls of tools not seen yet: one read for all of them. */
  #listing: Promise<void> | undefined;

  /**
   * `discover`: the probe request that found this server modern; sent again to check it is back.
   * `declarations`: the member's tools' `x-mcp-header` declarations, shared by its connections.
   */
  constructor(opts: TransportOptions, events: TransportEvents, discover: JsonRpcRequest, declarations: ParamHeaderRegistry) {
    this.#opts = opts;
    this.#events = events;
    this.#discover = discover;
    this.#declarations = declarations;
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

  /** `isRetry`: the call was refused once for its `Mcp-Param-*` headers, and the tool list read again. */
  async #exchange(req: JsonRpcRequest, signal: AbortSignal, isRetry = false): Promise<void> {
    const params = isObject(req.params) ? req.params : {};
    const isCall = req.method === 'tools/call' && typeof params.name === 'string';
    if (isCall && !this.#declarations.knows(params.name as string)) await this.#learnTools(req);
    const excluded = isCall ? this.#declarations.whyExcluded(params.name as string) : undefined;
    if (excluded !== undefined) {
      return this.#answer(errorResponse(req.id, RpcCode.invalidParams, `tool ${params.name as string} is not offered: its x-mcp-header declarations are invalid (${excluded})`));
    }
    let res: IncomingMessage;
    try {
      const headers = isCall ? { ...modernHeaders(req), ...this.#declarations.headersFor(params) } : modernHeaders(req);
      res = await call({ ...this.#opts.target, timeoutMs: this.#opts.requestTimeoutMs }, { method: 'POST', headers, body: JSON.stringify(req), signal });
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
    let isRefusedForParams = false;
    const deliver = (msg: JsonRpcMessage): void => {
      if (isResponse(msg) && msg.id === req.id) {
        // The spec's advice on -32020 for a call: read the tool list again (its schema may have changed) and retry.
        if (isCall && !isRetry && msg.error?.code === RpcCode.headerMismatch) return void (isRefusedForParams = true);
        isAnswered = true;
        if (req.method === 'tools/list' && isObject(msg.result)) this.#declarations.learn(msg.result);
      }
      this.#answer(msg);
    };
    // 4xx answers carry the JSON-RPC error (-32020, -32022, …) in the body: delivered like any answer.
    await readAnswer(res, this.#opts.maxMessageBytes, deliver);
    if (isRefusedForParams) {
      await this.#learnTools(req);
      return this.#exchange(req, signal, true);
    }
    if (isAnswered || signal.aborted) return;
    // A listen whose stream dropped has simply ended: told so, the adapter opens a new one.
    if (req.method === 'subscriptions/listen') return deliver(resultResponse(req.id, { resultType: 'complete' }));
    this.#fail(req.id, `the remote answer ended without a response (HTTP ${res.statusCode})`);
  }

  /** Reads the remote's tool list (with `call`'s envelope) once for every call waiting on it; failures leave calls as they were. */
  #learnTools(call: JsonRpcRequest): Promise<void> {
    this.#listing ??= this.#readToolList(envelopeOf(call)).catch(() => {}).finally(() => { this.#listing = undefined; });
    return this.#listing;
  }

  async #readToolList(meta: JsonObject): Promise<void> {
    let cursor: unknown;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const req: JsonRpcRequest = { jsonrpc: '2.0', id: `${LIST_ID}${page}`, method: 'tools/list', params: { ...(typeof cursor === 'string' ? { cursor } : {}), _meta: meta } };
      const res = await call({ ...this.#opts.target, timeoutMs: this.#opts.requestTimeoutMs }, { method: 'POST', headers: modernHeaders(req), body: JSON.stringify(req) });
      let result: JsonObject | undefined;
      await readAnswer(res, this.#opts.maxMessageBytes, (msg) => {
        if (isResponse(msg) && msg.id === req.id && isObject(msg.result)) result = msg.result;
      });
      if (result === undefined) return;
      this.#declarations.learn(result);
      cursor = result.nextCursor;
      if (typeof cursor !== 'string') return;
    }
  }

  #fail(requestId: JsonRpcId, message: string): void {
    this.#answer(errorResponse(requestId, RpcCode.serverError, message));
  }

  #answer(msg: JsonRpcMessage): void {
    if (this.#state === 'open') this.#events.message(msg);
  }

  #lose(reason: string): void {
    if (this.#state !== 'open') return;
    this.#state = 'lost';
    for (const abort of this.#inFlight.values()) abort.abort();
    this.#events.lost(reason);
  }
}

/** The 2026-07-28 envelope of a request (version, capabilities, client), for a request of the client's own. */
function envelopeOf(req: JsonRpcRequest): JsonObject {
  const meta = isObject(req.params) && isObject(req.params._meta) ? req.params._meta : {};
  const envelope: JsonObject = {};
  for (const key of [PROTOCOL_VERSION_KEY, CLIENT_CAPABILITIES_KEY, CLIENT_INFO_KEY]) if (key in meta) envelope[key] = meta[key];
  return envelope;
}
