/**
 * Hub: many downstream sessions over one upstream child. Rewrites request ids and progress tokens to
 * proxy-unique values and back, routes every reply, progress notification and server-to-client request
 * to the session it belongs to, fans out broadcast notifications, and (shared mode) initializes the child
 * once, answering later `initialize` requests from the cached result.
 *
 * Pure: no sockets, no processes, no timers. Messages handed in are owned by the hub (ids are rewritten
 * in place); what it says goes to a HubOutput. Time comes from the caller.
 */
import { RpcCode } from '../protocol/errors.ts';
import {
  errorResponse, isObject, isRequest, isResponse, resultResponse,
  type JsonObject, type JsonRpcId, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse,
} from '../protocol/message.ts';
import { RELATED_REQUEST_META } from '../protocol/meta-keys.ts';
import { LATEST_LEGACY_VERSION, negotiateVersion } from '../protocol/versions.ts';
import { isLogLevel, MCP_LOG_LEVELS } from '../protocol/log-levels.ts';
import { SharedLogLevel } from './shared-log-level.ts';
import { SharedSubscriptions } from './shared-subscriptions.ts';
import { attribute, logOwner } from './attribution.ts';
import { withRelayed } from './relay-capabilities.ts';
import type { Call, HubOptions, HubOutput, InitState, SessionState } from './hub-types.ts';

export type { HubOptions, HubOutput } from './hub-types.ts';

const DISCONNECTED = 'client disconnected';

export class Hub {
  #out: HubOutput;
  #opts: HubOptions;
  #nextId = 1;
  #calls = new Map<number, Call>();
  #serverRequests = new Map<number, { sessionId: string; childId: JsonRpcId }>();
  #sessions = new Map<string, SessionState>();
  #init: InitState = { state: 'none' };
  #hasSentInitialized = false;
  #subscriptions = new SharedSubscriptions();
  #logLevel = new SharedLogLevel();
  /** Why the child cannot take requests now; undefined while it can. */
  #downReason: string | undefined;

  constructor(out: HubOutput, opts: HubOptions) {
    this.#out = out;
    this.#opts = opts;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  get pendingCount(): number {
    return this.#calls.size;
  }

  /** The cached InitializeResult (shared mode), for building discovery answers. */
  get initializeResult(): JsonObject | undefined {
    return this.#init.state === 'ready' ? this.#init.result : undefined;
  }

  /** `isStateless`: a 2026-07-28 caller, which has no handshake of its own. */
  addSession(sessionId: string, options: { isStateless?: boolean } = {}): void {
    const isStateless = options.isStateless ?? false;
    this.#sessions.set(sessionId, {
      // Collections are made on first use: most of 10,000 idle sessions never need them.
      isInitialized: isStateless, isStateless, inFlight: undefined, serverRequests: undefined, lastActiveMs: this.#opts.now(),
    });
  }

  /**
   * Shared mode, for callers without a handshake: initializes the child with the proxy's own `params`
   * unless a client already did (or is doing) it. HubOutput.initialized reports the result.
   */
  ensureInitialized(params: JsonObject): void {
    if (this.#init.state !== 'none' || this.#downReason !== undefined) return;
    const upstreamId = this.#nextId++;
    this.#calls.set(upstreamId, { sessionId: undefined, clientId: upstreamId, method: 'initialize', startedMs: this.#opts.now(), clientToken: undefined, initParams: params });
    this.#init = { state: 'pending', upstreamId, waiting: [] };
    if (!this.#out.toChild({ jsonrpc: '2.0', id: upstreamId, method: 'initialize', params: structuredClone(params) })) {
      this.#calls.delete(upstreamId);
      this.#init = { state: 'none' };
    }
  }

  /** A message from a client session. */
  fromClient(sessionId: string, msg: JsonRpcMessage): void {
    const session = this.#sessions.get(sessionId);
    if (session === undefined) return;
    session.lastActiveMs = this.#opts.now();
    if (isResponse(msg)) this.#clientResponse(sessionId, session, msg);
    else if (isRequest(msg)) this.#clientRequest(sessionId, session, msg);
    else this.#clientNotification(sessionId, session, msg);
  }

  /** A message from the child. */
  fromChild(msg: JsonRpcMessage): void {
    if (isResponse(msg)) this.#childResponse(msg);
    else if (isRequest(msg)) this.#childRequest(msg);
    else this.#childNotification(msg);
  }

  /** A session ended: its calls are cancelled at the child, late replies for it are dropped. */
  removeSession(sessionId: string): void {
    const session = this.#sessions.get(sessionId);
    if (session === undefined) return;
    this.#sessions.delete(sessionId);
    for (const upstreamId of session.inFlight?.values() ?? []) {
      if (this.#isPendingInit(upstreamId)) {
        // initialize is never cancelled (spec), and other sessions may be waiting on this handshake:
        // it becomes the hub's own, and its reply still fills the cache.
        this.#calls.get(upstreamId)!.sessionId = undefined;
        continue;
      }
      this.#calls.delete(upstreamId);
      this.#out.toChild(cancelled(upstreamId, DISCONNECTED));
    }
    for (const proxyId of session.serverRequests ?? []) {
      const request = this.#serverRequests.get(proxyId);
      this.#serverRequests.delete(proxyId);
      if (request !== undefined) this.#out.toChild(errorResponse(request.childId, RpcCode.internalError, DISCONNECTED));
    }
    for (const uri of this.#subscriptions.dropSession(sessionId)) this.#internalRequest('resources/unsubscribe', { uri });
    this.#logLevel.dropSession(sessionId);
  }

  /** The child is gone: every call in flight fails now rather than waiting for a timeout. */
  childDown(reason: string): void {
    this.#downReason = reason;
    this.failCalls(`upstream ${reason}`);
  }

  /** Answers every call in flight with a -32000 error saying `message` (child gone, proxy shutting down). */
  failCalls(message: string): void {
    this.#failInit(message);
    for (const [upstreamId, call] of this.#calls) {
      this.#calls.delete(upstreamId);
      this.#fail(call, upstreamId, message);
    }
    for (const [proxyId, request] of this.#serverRequests) {
      this.#serverRequests.delete(proxyId);
      this.#sessions.get(request.sessionId)?.serverRequests?.delete(proxyId);
    }
  }

  /**
   * A (re)started child is ready for messages. In shared mode a restarted child is initialized again
   * with the cached params, its subscriptions and log level restored, and clients told that its lists
   * may have changed.
   */
  childUp(): void {
    this.#downReason = undefined;
    this.#hasSentInitialized = false;
    if (this.#init.state !== 'ready') return;
    const { params, result } = this.#init;
    // Spec order: initialize, its result, then `initialized`; only then the restored state.
    this.#internalRequest('initialize', params, (reply) => {
      if (reply.error !== undefined) {
        this.#out.note?.('a restarted child refused the cached initialize', { code: reply.error.code });
        return;
      }
      this.#out.toChild({ jsonrpc: '2.0', method: 'notifications/initialized' });
      this.#hasSentInitialized = true;
      for (const uri of this.#subscriptions.uris()) this.#internalRequest('resources/subscribe', { uri });
      const level = this.#logLevel.childLevel;
      if (level !== undefined) this.#internalRequest('logging/setLevel', { level });
      const capabilities = isObject(result.capabilities) ? result.capabilities : {};
      for (const kind of ['tools', 'prompts', 'resources']) {
        if (capabilities[kind] !== undefined) this.#broadcast({ jsonrpc: '2.0', method: `notifications/${kind}/list_changed` });
      }
    });
  }

  /** Fails every call older than `timeoutMs` and cancels it at the child. */
  expireCalls(timeoutMs: number): void {
    const deadline = this.#opts.now() - timeoutMs;
    for (const [upstreamId, call] of this.#calls) {
      if (call.startedMs > deadline) continue;
      if (this.#isPendingInit(upstreamId)) {
        this.#failInit(`initialize timed out after ${Math.round(timeoutMs / 100) / 10} s`);
        continue;
      }
      this.#calls.delete(upstreamId);
      this.#out.toChild(cancelled(upstreamId, 'request timed out'));
      this.#fail(call, upstreamId, `request timed out after ${Math.round(timeoutMs / 100) / 10} s`);
    }
  }

  // ── client → child ────────────────────────────────────────────────────────────────────────────────

  #clientRequest(sessionId: string, session: SessionState, req: JsonRpcRequest): void {
    switch (req.method) {
      case 'ping':
        return this.#reply(sessionId, resultResponse(req.id, {}));
      case 'initialize':
        return this.#clientInitialize(sessionId, session, req);
    }
    if (!session.isInitialized) {
      return this.#reply(sessionId, errorResponse(req.id, RpcCode.invalidRequest, `session not initialized: send initialize before ${req.method}`));
    }
    if (req.method === 'resources/subscribe' || req.method === 'resources/unsubscribe') {
      const uri = isObject(req.params) ? req.params.uri : undefined;
      if (typeof uri !== 'string') return this.#reply(sessionId, errorResponse(req.id, RpcCode.invalidParams, 'params.uri must be a string'));
      const isSubscribe = req.method === 'resources/subscribe';
      const isFirstOrLast = isSubscribe ? this.#subscriptions.subscribe(sessionId, uri) : this.#subscriptions.unsubscribe(sessionId, uri);
      // Only the first subscriber and the last to leave change anything at the shared child.
      if (!isFirstOrLast) return this.#reply(sessionId, resultResponse(req.id, {}));
    }
    if (req.method === 'logging/setLevel' && this.#opts.cacheInitialize) {
      return this.#setLogLevel(sessionId, session, req);
    }
    this.#forward(sessionId, session, req);
  }

  #forward(sessionId: string, session: SessionState, req: JsonRpcRequest, initParams?: JsonObject): void {
    if (session.inFlight?.has(req.id) === true) {
      // Ids must be unique among a session's requests in flight; a reused one would orphan the first call.
      return this.#reply(sessionId, errorResponse(req.id, RpcCode.invalidRequest, 'Invalid Request: a request with this id is already in flight'));
    }
    if (this.#downReason !== undefined) {
      return this.#reply(sessionId, errorResponse(req.id, RpcCode.serverError, `upstream unavailable: ${this.#downReason}`));
    }
    const upstreamId = this.#nextId++;
    const clientId = req.id;
    const meta = isObject(req.params) && isObject(req.params._meta) ? req.params._meta : undefined;
    const clientToken = meta?.progressToken as JsonRpcId | undefined;
    // The upstream id doubles as the progress token: unique across sessions, and found in one lookup.
    if (clientToken !== undefined) meta!.progressToken = upstreamId;
    req.id = upstreamId;
    const call: Call = { sessionId, clientId, method: req.method, startedMs: this.#opts.now(), clientToken };
    if (initParams !== undefined) call.initParams = initParams;
    // Recorded before sending: a layer below may answer synchronously (the modern-child adapter does).
    this.#calls.set(upstreamId, call);
    (session.inFlight ??= new Map()).set(clientId, upstreamId);
    if (!this.#out.toChild(req)) {
      this.#calls.delete(upstreamId);
      session.inFlight.delete(clientId);
      return this.#reply(sessionId, errorResponse(clientId, RpcCode.serverError, 'upstream unavailable: not accepting input'));
    }
  }

  #clientInitialize(sessionId: string, session: SessionState, req: JsonRpcRequest): void {
    if (session.isInitialized) {
      return this.#reply(sessionId, errorResponse(req.id, RpcCode.invalidRequest, 'session already initialized'));
    }
    const params = isObject(req.params) ? req.params : {};
    if (!this.#opts.cacheInitialize) {
      session.isInitialized = true;
      return this.#forward(sessionId, session, req);
    }
    switch (this.#init.state) {
      case 'ready':
        session.isInitialized = true;
        return this.#reply(sessionId, resultResponse(req.id, this.#initResultFor(params, this.#init.result)));
      case 'pending':
        session.isInitialized = true;
        this.#init.waiting.push({ sessionId, request: req });
        return;
      case 'none': {
        session.isInitialized = true;
        const upstreamId = this.#nextId;
        this.#init = { state: 'pending', upstreamId, waiting: [], requested: params.protocolVersion };
        // The shared child's handshake is everyone's: the proxy picks its version (its newest), never the
        // first client, whose own answer is negotiated from the result like every later client's.
        req.params = { ...params, protocolVersion: LATEST_LEGACY_VERSION };
        if (this.#opts.relayCapabilities !== undefined) {
          const own = isObject(params.capabilities) ? params.capabilities : {};
          req.params.capabilities = withRelayed(own, this.#opts.relayCapabilities);
        }
        this.#forward(sessionId, session, req, structuredClone(req.params as JsonObject));
        const state = this.#init as InitState;
        if (state.state === 'pending' && state.upstreamId === upstreamId && !this.#calls.has(upstreamId)) {
          // Not sent (the child is down): the client has its error and may try again.
          this.#init = { state: 'none' };
          session.isInitialized = false;
        }
      }
    }
  }

  #initResultFor(params: JsonObject, cached: JsonObject): JsonObject {
    const childVersion = typeof cached.protocolVersion === 'string' ? cached.protocolVersion : '2025-11-25';
    return { ...cached, protocolVersion: negotiateVersion(params.protocolVersion, childVersion) };
  }

  #clientNotification(sessionId: string, session: SessionState, msg: JsonRpcNotification): void {
    const params = isObject(msg.params) ? msg.params : undefined;
    switch (msg.method) {
      case 'notifications/initialized':
        // The shared child is told once; later clients' handshakes end at the proxy.
        if (this.#opts.cacheInitialize && this.#hasSentInitialized) return;
        this.#hasSentInitialized = true;
        this.#out.toChild(msg);
        return;
      case 'notifications/cancelled': {
        const clientId = params?.requestId as JsonRpcId | undefined;
        const upstreamId = clientId === undefined ? undefined : session.inFlight?.get(clientId);
        if (upstreamId === undefined) return; // already answered, or never ours: nothing to cancel
        if (this.#isPendingInit(upstreamId)) return; // initialize must not be cancelled (spec)
        session.inFlight!.delete(clientId!);
        this.#calls.delete(upstreamId);
        params!.requestId = upstreamId;
        this.#out.toChild(msg);
        return;
      }
    }
    if (session.isInitialized) this.#out.toChild(msg);
  }

  #clientResponse(sessionId: string, session: SessionState, res: JsonRpcResponse): void {
    const proxyId = res.id;
    const request = typeof proxyId === 'number' ? this.#serverRequests.get(proxyId) : undefined;
    if (request === undefined || request.sessionId !== sessionId) {
      this.#out.note?.('client answered an unknown server request', { session: sessionId });
      return;
    }
    this.#serverRequests.delete(proxyId as number);
    session.serverRequests?.delete(proxyId as number);
    res.id = request.childId;
    this.#out.toChild(res);
  }

  /** One shared child has one log level: the most verbose any session asked for; each session is filtered to its own. */
  #setLogLevel(sessionId: string, session: SessionState, req: JsonRpcRequest): void {
    const level = isObject(req.params) ? req.params.level : undefined;
    if (!isLogLevel(level)) {
      return this.#reply(sessionId, errorResponse(req.id, RpcCode.invalidParams, `params.level must be one of ${MCP_LOG_LEVELS.join(', ')}`));
    }
    const childLevel = this.#logLevel.set(sessionId, level);
    if (childLevel === undefined) return this.#reply(sessionId, resultResponse(req.id, {}));
    req.params = { ...req.params, level: childLevel };
    this.#forward(sessionId, session, req);
  }

  // ── child → client ────────────────────────────────────────────────────────────────────────────────

  #childResponse(res: JsonRpcResponse): void {
    const upstreamId = res.id;
    const call = typeof upstreamId === 'number' ? this.#calls.get(upstreamId) : undefined;
    if (call === undefined) {
      this.#out.note?.('late or unknown reply from the child dropped', { id: String(upstreamId) });
      return;
    }
    this.#calls.delete(upstreamId as number);
    if (call.initParams !== undefined && this.#init.state === 'pending' && this.#init.upstreamId === upstreamId) {
      this.#initialized(call, res);
    }
    if (call.sessionId === undefined) return call.onReply?.(res); // the hub's own request
    const session = this.#sessions.get(call.sessionId);
    if (session === undefined) return;
    this.#forgetInFlight(session, call, upstreamId as number);
    // A refused handshake (independent mode) leaves the session free to try initialize again.
    if (call.method === 'initialize' && res.error !== undefined) session.isInitialized = false;
    this.#out.callDone?.(call.method, res.error === undefined ? 'result' : 'error', this.#opts.now() - call.startedMs, res.error?.message);
    res.id = call.clientId;
    this.#out.toSession(call.sessionId, res, call.clientId);
  }

  #initialized(call: Call, res: JsonRpcResponse): void {
    const pending = this.#init as Extract<InitState, { state: 'pending' }>;
    if (res.error === undefined && isObject(res.result)) {
      const result = res.result;
      this.#init = { state: 'ready', params: call.initParams!, result };
      if (call.sessionId !== undefined) res.result = this.#initResultFor({ protocolVersion: pending.requested }, result);
      // The proxy's own initialize is followed by its own `initialized`; a client's comes from the client.
      if (call.sessionId === undefined && !this.#hasSentInitialized) {
        this.#hasSentInitialized = true;
        this.#out.toChild({ jsonrpc: '2.0', method: 'notifications/initialized' });
      }
      this.#out.initialized?.(result);
      for (const { sessionId, request } of pending.waiting) {
        const params = isObject(request.params) ? request.params : {};
        this.#reply(sessionId, resultResponse(request.id, this.#initResultFor(params, result)));
      }
      return;
    }
    // The child refused this client's initialize: the next waiting client gets to try its own.
    this.#init = { state: 'none' };
    if (call.sessionId !== undefined) {
      const session = this.#sessions.get(call.sessionId);
      if (session !== undefined) session.isInitialized = false;
    }
    const waiting = pending.waiting.filter((w) => this.#sessions.has(w.sessionId));
    for (const { sessionId } of waiting) this.#sessions.get(sessionId)!.isInitialized = false;
    const [next, ...rest] = waiting;
    if (next === undefined) return;
    this.#clientInitialize(next.sessionId, this.#sessions.get(next.sessionId)!, next.request);
    const state = this.#init as InitState;
    if (state.state === 'pending') {
      for (const w of rest) this.#sessions.get(w.sessionId)!.isInitialized = true;
      state.waiting.push(...rest);
    } else {
      // The next one could not even be sent (the child is down): every waiting session is told.
      for (const w of rest) this.#reply(w.sessionId, errorResponse(w.request.id, RpcCode.serverError, 'upstream unavailable'));
    }
  }

  #childRequest(req: JsonRpcRequest): void {
    if (req.method === 'ping') {
      this.#out.toChild(resultResponse(req.id, {}));
      return;
    }
    const meta = isObject(req.params) && isObject(req.params._meta) ? req.params._meta : undefined;
    const hint = meta?.[RELATED_REQUEST_META];
    if (hint !== undefined) delete meta![RELATED_REQUEST_META];
    // A hint that names no live call (it was cancelled or timed out) must not fall back to a guess.
    const hinted = typeof hint === 'number' ? this.#calls.get(hint) : undefined;
    const target = hint !== undefined && hinted === undefined ? undefined : attribute(hinted, req.method, this.#calls.values(), this.#sessions);
    if (target === undefined && req.method === 'roots/list' && hint === undefined) {
      // No legacy client to give its roots: the proxy has none of its own (its handshake declares roots).
      this.#out.toChild(resultResponse(req.id, { roots: [] }));
      return;
    }
    if (target === undefined || target === 'ambiguous') {
      const reason = target === undefined ? 'no client connected to answer' : 'several callers are in flight; cannot tell which one should answer';
      this.#out.toChild(errorResponse(req.id, RpcCode.internalError, `${reason} ${req.method}`));
      return;
    }
    const targetSession = this.#sessions.get(target.sessionId);
    if (targetSession === undefined) {
      this.#out.toChild(errorResponse(req.id, RpcCode.internalError, `the client for ${req.method} has left`));
      return;
    }
    const proxyId = this.#nextId++;
    this.#serverRequests.set(proxyId, { sessionId: target.sessionId, childId: req.id });
    (targetSession.serverRequests ??= new Set()).add(proxyId);
    req.id = proxyId;
    this.#out.toSession(target.sessionId, req, target.relatedId);
  }

  #childNotification(msg: JsonRpcNotification): void {
    const params = isObject(msg.params) ? msg.params : undefined;
    switch (msg.method) {
      case 'notifications/progress': {
        const call = typeof params?.progressToken === 'number' ? this.#calls.get(params.progressToken) : undefined;
        if (call?.sessionId === undefined || call.clientToken === undefined) return;
        params!.progressToken = call.clientToken;
        this.#out.toSession(call.sessionId, msg, call.clientId);
        return;
      }
      case 'notifications/cancelled': {
        // The child withdrew one of its own requests to a client.
        const childId = params?.requestId;
        for (const [proxyId, request] of this.#serverRequests) {
          if (request.childId !== childId) continue;
          this.#serverRequests.delete(proxyId);
          this.#sessions.get(request.sessionId)?.serverRequests?.delete(proxyId);
          params!.requestId = proxyId;
          this.#out.toSession(request.sessionId, msg, undefined);
          return;
        }
        return;
      }
      case 'notifications/resources/updated': {
        const uri = params?.uri;
        for (const sessionId of this.#sessions.keys()) {
          if (typeof uri === 'string' && this.#subscriptions.holds(sessionId, uri)) this.#out.toSession(sessionId, msg, undefined);
        }
        return;
      }
      case 'notifications/message': {
        for (const [sessionId, session] of this.#sessions) {
          if (session.isInitialized && !session.isStateless && this.#logLevel.allows(sessionId, params?.level)) this.#out.toSession(sessionId, msg, undefined);
        }
        // A 2026-07-28 caller has no stream for unsolicited logs: only its call's, which filters by the call's own level.
        const call = logOwner(this.#calls.values(), this.#sessions);
        if (call !== undefined) this.#out.toSession(call.sessionId!, msg, call.clientId);
        return;
      }
    }
    this.#broadcast(msg);
  }

  #broadcast(msg: JsonRpcNotification): void {
    for (const [sessionId, session] of this.#sessions) {
      if (session.isInitialized) this.#out.toSession(sessionId, msg, undefined);
    }
  }

  /** Drops a call from its session's in-flight index, if the index still points at this call. */
  #forgetInFlight(session: SessionState, call: Call, upstreamId: number): void {
    if (session.inFlight?.get(call.clientId) === upstreamId) session.inFlight.delete(call.clientId);
  }

  #isPendingInit(upstreamId: number): boolean {
    return this.#init.state === 'pending' && this.#init.upstreamId === upstreamId;
  }

  /** The shared handshake failed (child gone, timeout): every session in it may try initialize again. */
  #failInit(message: string): void {
    if (this.#init.state !== 'pending') return;
    const { upstreamId, waiting } = this.#init;
    this.#init = { state: 'none' };
    const call = this.#calls.get(upstreamId);
    this.#calls.delete(upstreamId);
    const sessionIds = [...waiting.map((w) => w.sessionId), ...(call?.sessionId === undefined ? [] : [call.sessionId])];
    for (const sessionId of sessionIds) {
      const session = this.#sessions.get(sessionId);
      if (session !== undefined) session.isInitialized = false;
    }
    for (const { sessionId, request } of waiting) this.#reply(sessionId, errorResponse(request.id, RpcCode.serverError, message));
    if (call !== undefined) this.#fail(call, upstreamId, message);
  }

  /** Answers a client's call with a proxy-made -32000 error (child gone, timeout); the call must be out of #calls. */
  #fail(call: Call, upstreamId: number, message: string): void {
    if (call.sessionId === undefined) return;
    const session = this.#sessions.get(call.sessionId);
    if (session !== undefined) this.#forgetInFlight(session, call, upstreamId);
    this.#out.callDone?.(call.method, 'error', this.#opts.now() - call.startedMs, message);
    this.#reply(call.sessionId, errorResponse(call.clientId, RpcCode.serverError, message));
  }

  #reply(sessionId: string, res: JsonRpcResponse): void {
    if (this.#sessions.has(sessionId)) this.#out.toSession(sessionId, res, res.id ?? undefined);
  }

  /** A request of the hub's own (re-initialize, shared subscriptions); its reply is consumed here. */
  #internalRequest(method: string, params: JsonObject, onReply?: (res: JsonRpcResponse) => void): void {
    const upstreamId = this.#nextId++;
    const call: Call = { sessionId: undefined, clientId: upstreamId, method, startedMs: this.#opts.now(), clientToken: undefined };
    if (onReply !== undefined) call.onReply = onReply;
    this.#calls.set(upstreamId, call);
    if (!this.#out.toChild({ jsonrpc: '2.0', id: upstreamId, method, params: structuredClone(params) })) this.#calls.delete(upstreamId);
  }
}

function cancelled(upstreamId: number, reason: string): JsonRpcNotification {
  return { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: upstreamId, reason } };
}
