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
import { errorResponse, invalidReason, isObject, resultResponse, type JsonObject, type JsonRpcRequest } from '../../protocol/message.ts';
import type { StatelessSource, StatelessTarget } from '../../servers/contract.ts';
import { PROXY_INITIALIZE } from '../../servers/proxy-initialize.ts';
import { clientCapabilitiesOf, validateModernRequest, withoutEnvelope } from './envelope.ts';
import type { Headers } from '../../protocol/header-values.ts';
import { digestOf, RequestStateCodec } from './request-state.ts';
import { discoverFromInitialize } from './shape.ts';
import { ListenStream } from './listen.ts';
import { callIdentity, StatelessCall, type CallOwner } from './stateless-call.ts';
import { ParamHeaderRegistry } from '../../protocol/param-headers.ts';
import { CLIENT_INFO_KEY, PROTOCOL_VERSION_KEY } from '../../protocol/meta-keys.ts';
import type { Principal } from '../../identity/principal.ts';
import type { SessionGate } from '../session-gate.ts';

/** Methods a 2026-07-28 client may send that the child answers. */
const FORWARDED = new Set(['tools/list', 'tools/call', 'prompts/list', 'prompts/get', 'resources/list', 'resources/templates/list', 'resources/read', 'completion/complete']);
/** Calls waiting for a retry, and listen streams, at most: each holds child state; past it callers get 503. */
const MAX_PARKED = 1000;
const MAX_LISTENS = 1000;
const SWEEP_MS = 10_000;

export class StatelessHandler implements CallOwner {
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

  /** A gate for one call: its principal's tool rules, its audit line with the client it names. */
  gateFor(callId: string, principal: Principal, req: JsonRpcRequest): SessionGate {
    const gate = this.#ctx.gated.gateFor(callId, principal, 'stateless');
    const meta = isObject(req.params) && isObject(req.params._meta) ? req.params._meta : {};
    const info = meta[CLIENT_INFO_KEY];
    if (isObject(info)) gate.client = { name: String(info.name).slice(0, 100), version: String(info.version).slice(0, 50) };
    gate.era = typeof meta[PROTOCOL_VERSION_KEY] === 'string' ? meta[PROTOCOL_VERSION_KEY] : undefined;
    return gate;
  }

  /** A POST whose body claims the 2026-07-28 envelope (or, for a notification, carries the modern header). */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL, body: unknown, principal: Principal): Promise<void> {
    if (!isObject(body)) throw new ProxyError(400, RpcCode.invalidRequest, 'Invalid Request');
    // The same envelope rules as the 2025 eras (an id kept exactly, a method that is a string).
    const reason = invalidReason(body);
    if (reason !== undefined) throw new ProxyError(400, RpcCode.invalidRequest, `Invalid Request: ${reason}`);
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
    msg.params = withoutEnvelope(params);
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
    call.resume(res, msg, responses[ref.key]);
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

function busy(what: string): ProxyError {
  return new ProxyError(503, RpcCode.serverError, `${what}; try again later`, { headers: { 'retry-after': '5' } });
}
