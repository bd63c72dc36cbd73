/**
 * Stateless (2026-07-28) requests on /mcp, served by a legacy child: headers and envelope checked,
 * the envelope stripped, results shaped for the modern client, `server/discover` answered from the
 * child's InitializeResult, `subscriptions/listen` run by the proxy, and the child's server-to-client
 * requests turned into `input_required` results whose retry completes the same parked call.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProxyContext } from '../context.ts';
import { ProxyError, RpcCode } from '../../protocol/errors.ts';
import { sendJson } from '../../http/send-json.ts';
import { SseWriter } from '../../http/sse-writer.ts';
import {
  errorResponse, isObject, isRequest, isResponse, resultResponse,
  type JsonObject, type JsonRpcId, type JsonRpcMessage, type JsonRpcRequest, type JsonRpcResponse,
} from '../../protocol/message.ts';
import type { ClientLink, StatelessSource, StatelessTarget } from '../../servers/contract.ts';
import { PROXY_INITIALIZE } from '../../servers/proxy-initialize.ts';
import { clientCapabilitiesOf, stripEnvelope, validateModernRequest } from './envelope.ts';
import type { Headers } from '../../protocol/header-values.ts';
import { digestOf, RequestStateCodec } from './request-state.ts';
import { discoverFromInitialize, mapError, shapeResult } from './shape.ts';
import { ListenStream } from './listen.ts';
import { ParamHeaderRegistry } from '../../protocol/param-headers.ts';
import { CLIENT_INFO_KEY, PROTOCOL_VERSION_KEY } from '../../protocol/meta-keys.ts';
import type { Principal } from '../../identity/principal.ts';
import { gatedLink, passInbound, type SessionGate } from '../session-gate.ts';

/** Methods a 2026-07-28 client may send that the child answers. */
const FORWARDED = new Set(['tools/list', 'tools/call', 'prompts/list', 'prompts/get', 'resources/list', 'resources/templates/list', 'resources/read', 'completion/complete']);
/** Only these may answer `input_required` (spec: MRTR). */
const MRTR_METHODS = new Set(['tools/call', 'prompts/get', 'resources/read']);
/** A child's server-to-client request → the client capability it needs. */
const INPUT_CAPABILITY: Record<string, string> = { 'elicitation/create': 'elicitation', 'sampling/createMessage': 'sampling', 'roots/list': 'roots' };
const PARKED_TTL_MS = 5 * 60_000;
/** Calls waiting for a retry, and listen streams, at most: each holds child state; past it callers get 503. */
const MAX_PARKED = 1000;
const MAX_LISTENS = 1000;
const SWEEP_MS = 10_000;

/** One stateless call: its HTTP answer, or a chain of them across `input_required` rounds. */
class StatelessCall implements ClientLink {
  readonly sessionId: string;
  #handler: StatelessHandler;
  #backend: StatelessTarget;
  #method: string;
  #forwardedId: JsonRpcId;
  #serverInfo: unknown;
  #capabilities: JsonObject;
  #paramHeaders: ParamHeaderRegistry;
  #res: ServerResponse;
  #replyId: JsonRpcId;
  #writer: SseWriter | undefined;
  #state: 'running' | 'parked' | 'done' = 'running';
  /** When the current HTTP answer began (the first request, or the latest retry). */
  #startedMs = Date.now();
  /** The call's own reply when it came while the call was parked. */
  #early: JsonRpcResponse | undefined;
  /** The parked child request: its proxy id and the inputRequests key the client answers under. */
  parked: { proxyId: JsonRpcId; key: string; expiresMs: number } | undefined;
  /** Digest of the call's method and params, which every retry must repeat. */
  readonly digest: string;
  /** Digest of the caller's principal and environment: only the same caller may resume. */
  readonly caller: string;
  #gate: SessionGate;
  /** The handle of this call in the handler's parked table while parked. */
  token: string | undefined;

  constructor(
    handler: StatelessHandler, backend: StatelessTarget, req: JsonRpcRequest, res: ServerResponse,
    context: { serverInfo: unknown; capabilities: JsonObject; caller: string; principal: Principal; paramHeaders: ParamHeaderRegistry },
  ) {
    this.#handler = handler;
    this.digest = digestOf(callIdentity(req));
    this.caller = context.caller;
    this.#backend = backend;
    this.sessionId = `~${randomUUID()}`;
    this.#gate = handler.gateFor(this.sessionId, context.principal, req);
    this.#method = req.method;
    this.#forwardedId = req.id;
    this.#replyId = req.id;
    this.#serverInfo = context.serverInfo;
    this.#capabilities = context.capabilities;
    this.#paramHeaders = context.paramHeaders;
    this.#res = res;
    this.#watch(res);
  }

  /** Called on the heartbeat: a call quiet for `afterMs` switches to SSE so comments keep its connection alive. */
  keepAlive(nowMs: number, afterMs: number): void {
    if (this.#state === 'running' && this.#writer === undefined && nowMs - this.#startedMs >= afterMs) {
      this.#handler.heartbeat.add(this.#stream());
    }
  }

  /** May throw a ProxyError 403 (step-up) before the call reaches the server; the call is then closed. */
  start(req: JsonRpcRequest): void {
    this.#handler.track(this);
    this.#backend.attachStateless(this.sessionId, gatedLink(this.#gate, this));
    try {
      passInbound(this.#gate, this, req, (msg) => this.#backend.receive(this.sessionId, msg));
    } catch (err) {
      this.#close();
      throw err;
    }
  }

  /** A retry with the client's answer: the parked child request gets it; this response takes over. */
  resume(res: ServerResponse, replyId: JsonRpcId, answer: unknown): void {
    const { proxyId } = this.parked!;
    this.parked = undefined;
    this.#state = 'running';
    this.#res = res;
    this.#replyId = replyId;
    this.#writer = undefined;
    this.#startedMs = Date.now();
    this.#watch(res);
    const early = this.#early;
    if (early !== undefined) return this.#finish(this.#shape(early));
    this.#backend.receive(this.sessionId, resultResponse(proxyId, answer));
  }

  deliver(msg: JsonRpcMessage): void {
    if (this.#state === 'parked' && isResponse(msg) && msg.id === this.#forwardedId) {
      // The child finished without waiting for the answer: the retry gets this result.
      this.#early = msg;
      return;
    }
    if (this.#state !== 'running') {
      if (isRequest(msg)) this.#refuse(msg, 'the caller is not connected');
      return;
    }
    if (isResponse(msg)) {
      if (msg.id !== this.#forwardedId) return;
      this.#finish(this.#shape(msg));
      return;
    }
    if (isRequest(msg)) return this.#bridge(msg);
    // Progress belongs to this call; other notifications (logs, list changes) have no modern route here.
    if (msg.method === 'notifications/progress') this.#stream().send(JSON.stringify(msg));
  }

  end(): void {
    // The child is gone; the hub has already answered the call with an error.
  }

  /** Parked past its TTL: the child's request is refused and the call cancelled. */
  expire(): void {
    if (this.parked !== undefined) this.#backend.receive(this.sessionId, errorResponse(this.parked.proxyId, RpcCode.internalError, 'the client did not answer in time'));
    this.#close();
  }

  #shape(res: JsonRpcResponse): JsonRpcResponse {
    res.id = this.#replyId;
    if (res.error !== undefined) {
      res.error = mapError(res.error);
      return res;
    }
    if (this.#method === 'tools/list') this.#paramHeaders.learn(res.result);
    res.result = shapeResult(this.#method, res.result, this.#serverInfo);
    return res;
  }

  /** The child asks the client something while this call runs: MRTR turns it into `input_required`. */
  #bridge(req: JsonRpcRequest): void {
    const capability = INPUT_CAPABILITY[req.method];
    if (capability === undefined || !MRTR_METHODS.has(this.#method)) return this.#refuse(req, `${req.method} cannot be relayed to a 2026-07-28 client`);
    if (!isObject(this.#capabilities[capability])) return this.#refuse(req, `the client did not declare the ${capability} capability`);
    if (!this.#handler.canPark) return this.#refuse(req, 'too many calls are waiting for client input');
    const key = `mcpproxy-${String(req.id)}`;
    const expiresMs = Date.now() + PARKED_TTL_MS;
    this.parked = { proxyId: req.id, key, expiresMs };
    this.#state = 'parked';
    const requestState = this.#handler.park(this, key, expiresMs);
    const params = isObject(req.params) ? { ...req.params } : {};
    delete params._meta;
    const result = { resultType: 'input_required', inputRequests: { [key]: { method: req.method, params } }, requestState };
    this.#respond(resultResponse(this.#replyId, shapeResult(this.#method, result, this.#serverInfo)));
  }

  #refuse(req: JsonRpcRequest, reason: string): void {
    const answer = req.method === 'roots/list' ? resultResponse(req.id, { roots: [] }) : errorResponse(req.id, RpcCode.methodNotFound, reason);
    this.#backend.receive(this.sessionId, answer);
  }

  #stream(): SseWriter {
    this.#writer ??= new SseWriter(this.#res, this.#handler.maxStreamBufferBytes);
    return this.#writer;
  }

  #respond(res: JsonRpcResponse): void {
    const data = JSON.stringify(res);
    if (this.#writer !== undefined) {
      this.#writer.send(data);
      this.#writer.end();
    } else if (!this.#res.writableEnded) {
      this.#res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }).end(data);
    }
  }

  #finish(res: JsonRpcResponse): void {
    this.#respond(res);
    this.#close();
  }

  #close(): void {
    if (this.#state === 'done') return;
    this.#state = 'done';
    this.#handler.unpark(this);
    this.#handler.untrack(this);
    this.#gate.end();
    this.#backend.close(this.sessionId);
  }

  /** Spec: closing a stateless request's stream cancels it, unless it is parked waiting for a retry. */
  #watch(res: ServerResponse): void {
    res.once('close', () => {
      if (this.#res === res && this.#state === 'running') this.#close();
    });
  }
}

export class StatelessHandler {
  #ctx: ProxyContext;
  #pool: StatelessSource;
  #codec = new RequestStateCodec(randomBytes(32), randomUUID());
  #parked = new Map<string, StatelessCall>();
  #paramHeaders = new WeakMap<StatelessTarget, ParamHeaderRegistry>();
  #listens = new Set<ListenStream>();
  #running = new Set<StatelessCall>();
  #timer: NodeJS.Timeout;

  constructor(ctx: ProxyContext, pool: StatelessSource) {
    this.#ctx = ctx;
    this.#pool = pool;
    const { heartbeatMs } = ctx.config;
    this.#timer = setInterval(() => this.#sweep(Date.now()), heartbeatMs > 0 ? Math.min(SWEEP_MS, heartbeatMs / 2) : SWEEP_MS);
    this.#timer.unref();
  }

  get heartbeat(): ProxyContext['heartbeat'] {
    return this.#ctx.heartbeat;
  }

  track(call: StatelessCall): void {
    this.#running.add(call);
  }

  untrack(call: StatelessCall): void {
    this.#running.delete(call);
  }

  get maxStreamBufferBytes(): number {
    return this.#ctx.config.maxStreamBufferBytes;
  }

  /** A POST whose body claims the 2026-07-28 envelope (or, for a notification, carries the modern header). */
  /** A gate for one call: its principal's tool rules, its audit line with the client it names. */
  gateFor(callId: string, principal: Principal, req: JsonRpcRequest): SessionGate {
    const gate = this.#ctx.gated.gateFor(callId, principal, 'stateless');
    const meta = isObject(req.params) && isObject(req.params._meta) ? req.params._meta : {};
    const info = meta[CLIENT_INFO_KEY];
    if (isObject(info)) gate.client = { name: String(info.name).slice(0, 100), version: String(info.version).slice(0, 50) };
    gate.era = typeof meta[PROTOCOL_VERSION_KEY] === 'string' ? meta[PROTOCOL_VERSION_KEY] : undefined;
    return gate;
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL, body: unknown, principal: Principal): Promise<void> {
    if (!isObject(body)) throw new ProxyError(400, RpcCode.invalidRequest, 'Invalid Request');
    if (body.id === undefined) {
      res.writeHead(202).end(); // no client notification means anything over stateless HTTP
      return;
    }
    const msg = body as unknown as JsonRpcRequest;
    try {
      await this.#dispatch(req, res, url, msg, body, principal);
    } catch (err) {
      // The spec's pre-dispatch errors echo the request id (as the SDK's handler does).
      if (err instanceof ProxyError) err.requestId = msg.id;
      throw err;
    }
  }

  async #dispatch(req: IncomingMessage, res: ServerResponse, url: URL, msg: JsonRpcRequest, body: JsonObject, principal: Principal): Promise<void> {
    validateModernRequest(body, req.headers as Headers);
    if (msg.method !== 'server/discover' && msg.method !== 'subscriptions/listen' && !FORWARDED.has(msg.method)) {
      throw new ProxyError(404, RpcCode.methodNotFound, `Method not found: ${msg.method}`);
    }
    const env = this.#ctx.identity.callerEnv(this.#ctx.requestEnv.extract(req, url), principal);
    const backend = this.#pool.get(env, principal.id);
    const init = await backend.initializeResult(PROXY_INITIALIZE);
    const capabilities = clientCapabilitiesOf(body);
    const params = isObject(msg.params) ? msg.params : {};
    if (msg.method === 'server/discover') return sendJson(res, 200, resultResponse(msg.id, discoverFromInitialize(init)));
    if (msg.method === 'subscriptions/listen') {
      if (this.#listens.size >= MAX_LISTENS) throw busy('too many listen streams');
      return this.#listen(backend, msg, res, init, principal);
    }
    const paramHeaders = this.#paramHeadersOf(backend);
    if (msg.method === 'tools/call') paramHeaders.check(params, req.headers as Headers);
    const caller = digestOf({ principal: principal.id, env });
    if (typeof params.requestState === 'string' && this.#resume(msg, params, res, caller)) return;
    const call = new StatelessCall(this, backend, msg, res, { serverInfo: init.serverInfo, capabilities, caller, principal, paramHeaders });
    stripEnvelope(params);
    call.start(msg);
  }

  /** Registers a call waiting for its retry; returns the requestState that names it. */
  get canPark(): boolean {
    return this.#parked.size < MAX_PARKED;
  }

  park(call: StatelessCall, key: string, expiresMs: number): string {
    const token = randomUUID();
    this.#parked.set(token, call);
    call.token = token;
    return this.#codec.encode({ token, key, digest: call.digest, principal: call.caller, expiresMs });
  }

  unpark(call: StatelessCall): void {
    if (call.token !== undefined) this.#parked.delete(call.token);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    for (const listen of this.#listens) listen.end();
    for (const call of this.#parked.values()) call.expire();
  }

  /** A retry carrying a requestState: handed to the parked call it names once verified, else refused. Always answers. */
  #resume(msg: JsonRpcRequest, params: JsonObject, res: ServerResponse, caller: string): boolean {
    const ref = this.#codec.decode(params.requestState as string, Date.now());
    const refuse = (reason: string): true => {
      sendJson(res, 200, errorResponse(msg.id, RpcCode.invalidParams, `Invalid params: ${reason}`));
      return true;
    };
    if ('error' in ref) return refuse(ref.error);
    const call = this.#parked.get(ref.token);
    if (call === undefined || call.parked === undefined) return refuse('the call this requestState belongs to is no longer waiting');
    if (ref.principal !== caller) return refuse('requestState belongs to another caller');
    if (ref.digest !== digestOf(callIdentity(msg))) return refuse('the retry differs from the original call');
    const responses = params.inputResponses;
    if (!isObject(responses) || !(ref.key in responses)) return refuse(`inputResponses must answer "${ref.key}"`);
    this.#parked.delete(ref.token);
    call.resume(res, msg.id, responses[ref.key]);
    return true;
  }

  #paramHeadersOf(backend: StatelessTarget): ParamHeaderRegistry {
    let registry = this.#paramHeaders.get(backend);
    if (registry === undefined) this.#paramHeaders.set(backend, (registry = new ParamHeaderRegistry()));
    return registry;
  }

  #listen(backend: StatelessTarget, msg: JsonRpcRequest, res: ServerResponse, init: JsonObject, principal: Principal): void {
    const sessionId = `~listen-${randomUUID()}`;
    const listen = new ListenStream(backend, { sessionId, gate: this.gateFor(sessionId, principal, msg) }, msg, res, init, this.#ctx);
    this.#listens.add(listen);
    listen.onEnd(() => this.#listens.delete(listen));
  }

  #sweep(nowMs: number): void {
    for (const call of [...this.#parked.values()]) {
      if (call.parked !== undefined && call.parked.expiresMs < nowMs) call.expire();
    }
    const { heartbeatMs } = this.#ctx.config;
    if (heartbeatMs > 0) for (const call of this.#running) call.keepAlive(nowMs, heartbeatMs);
  }
}

/** What a retry must repeat exactly: the method and params, without the MRTR fields and `_meta`. */
function callIdentity(msg: JsonRpcRequest): unknown {
  const { inputResponses: _r, requestState: _s, _meta: _m, ...params } = isObject(msg.params) ? msg.params : {};
  return { method: msg.method, params };
}

function busy(what: string): ProxyError {
  return new ProxyError(503, RpcCode.serverError, `${what}; try again later`, { headers: { 'retry-after': '5' } });
}
