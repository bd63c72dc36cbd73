/**
 * Sits between the Hub (which speaks legacy MCP to its child) and a modern (2026-07-28) stdio child,
 * so nothing above it changes (MCP-ERAS §3, "legacy client → modern child"). It ends the handshake
 * itself from the child's DiscoverResult, emulates `ping`, `logging/setLevel` and
 * `resources/(un)subscribe`, adds the `_meta` envelope to legacy requests and strips modern-only result
 * fields, turns `input_required` into real server-to-client requests and retries, and holds one
 * `subscriptions/listen` (child-listen.ts) whose notifications go up as plain legacy ones. Requests that already carry
 * an envelope (a modern client's) pass through untouched.
 *
 * Pure: no I/O, no timers; time comes from `now()`. Ids it owns are strings with an `mcpproxy-`
 * prefix, so they never collide with the Hub's numeric upstream ids.
 */
import { RpcCode } from '../protocol/errors.ts';
import {
  errorResponse, isObject, isRequest, isResponse, resultResponse,
  type JsonObject, type JsonRpcId, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse,
} from '../protocol/message.ts';
import { isLegacyVersion, LATEST_LEGACY_VERSION } from '../protocol/versions.ts';
import {
  CLIENT_CAPABILITIES_KEY, CLIENT_INFO_KEY, LOG_LEVEL_KEY, PROTOCOL_VERSION_KEY, RELATED_REQUEST_META, SERVER_INFO_KEY, SUBSCRIPTION_ID_KEY,
} from '../protocol/meta-keys.ts';
import { ChildListen } from './child-listen.ts';
import { legacyResult, legacyToModernCapabilities } from './era-shapes.ts';


/** Rounds of `input_required` one call may take before it fails (a child asking forever). */
export const MAX_INPUT_ROUNDS = 8;
/** The only requests MRTR may embed (2026-07-28 basic/patterns/mrtr). */
const INPUT_METHODS = new Set(['elicitation/create', 'sampling/createMessage', 'roots/list']);

const RETRY_PREFIX = 'mcpproxy-retry-';
const INPUT_PREFIX = 'mcpproxy-input-';

export interface ModernChildOptions {
  /** The modern version the child speaks (from the probe). */
  version: string;
  /** The child's DiscoverResult. */
  discover: JsonObject;
  now(): number;
}

/** A legacy-origin call in flight at the child, possibly between `input_required` rounds. */
interface LegacyCall {
  /** The Hub's id for the call: what its final answer carries. */
  upstreamId: JsonRpcId;
  /** The request as first sent to the child (envelope added), retried with inputResponses. */
  request: JsonRpcRequest;
  rounds: number;
  /** Input key → the adapter's id of the request sent up for it, while unanswered. */
  waiting: Map<string, string>;
  responses: JsonObject;
  requestState: string | undefined;
}

export class ModernChildAdapter {
  #toChild: (msg: JsonRpcMessage) => boolean;
  #toHub: (msg: JsonRpcMessage) => void;
  #opts: ModernChildOptions;
  #discover: JsonObject;
  #nextId = 1;
  /** Child-side id (the Hub's id, or a retry id) → the legacy call it belongs to. */
  #calls = new Map<JsonRpcId, LegacyCall>();
  /** Adapter id of an input request sent up → its call and key. */
  #inputs = new Map<string, { call: LegacyCall; key: string }>();
  #clientCapabilities: JsonObject = {};
  #clientInfo: JsonObject | undefined;
  #logLevel: string | undefined;
  #listen: ChildListen;

  constructor(toChild: (msg: JsonRpcMessage) => boolean, toHub: (msg: JsonRpcMessage) => void, opts: ModernChildOptions) {
    this.#toChild = toChild;
    this.#toHub = toHub;
    this.#opts = opts;
    this.#discover = opts.discover;
    this.#listen = new ChildListen({ toChild, discover: () => this.#discover, envelope: () => this.#envelope(), now: opts.now });
  }

  /** The current listen's id at the child, if one is open (for tests and logs). */
  get listenId(): string | undefined {
    return this.#listen.id;
  }

  /** A message from the Hub (what it would write to a legacy child); false when the child cannot take it. */
  send(msg: JsonRpcMessage): boolean {
    this.#listen.retryPending();
    if (isResponse(msg)) return this.#hubResponse(msg);
    if (isRequest(msg)) return this.#hubRequest(msg);
    return this.#hubNotification(msg);
  }

  /** A message from the modern child. */
  receive(msg: JsonRpcMessage): void {
    if (isResponse(msg)) this.#childResponse(msg);
    else if (isRequest(msg)) this.#toHub(msg); // a modern child must not ask; the Hub copes if one does
    else this.#childNotification(msg);
  }

  /** The child restarted: in-flight state is gone (the Hub failed those calls); the listen is reopened. */
  reset(discover?: JsonObject): void {
    if (discover !== undefined) this.#discover = discover;
    this.#calls.clear();
    this.#inputs.clear();
    this.#listen.restart();
  }

  // ── Hub → child ───────────────────────────────────────────────────────────────────────────────────

  #hubRequest(req: JsonRpcRequest): boolean {
    const params = isObject(req.params) ? req.params : {};
    const meta = isObject(params._meta) ? params._meta : undefined;
    if (meta !== undefined && PROTOCOL_VERSION_KEY in meta) return this.#passThrough(req, meta[PROTOCOL_VERSION_KEY]);
    switch (req.method) {
      case 'initialize':
        return this.#initialize(req, params);
      case 'ping':
        return this.#answer(req.id, {});
      case 'logging/setLevel':
        if (typeof params.level === 'string') this.#logLevel = params.level;
        return this.#answer(req.id, {});
      case 'resources/subscribe':
      case 'resources/unsubscribe': {
        if (typeof params.uri !== 'string') {
          this.#toHub(errorResponse(req.id, RpcCode.invalidParams, 'params.uri must be a string'));
          return true;
        }
        this.#listen.subscribe(params.uri, req.method === 'resources/subscribe');
        return this.#answer(req.id, {});
      }
    }
    // A 2026-07-28 caller's own level (kept on its request) wins over the one legacy sessions set.
    const request: JsonRpcRequest = { ...req, params: { ...params, _meta: { ...meta, ...this.#envelope(meta?.[LOG_LEVEL_KEY]) } } };
    if (!this.#toChild(request)) return false;
    this.#calls.set(req.id, { upstreamId: req.id, request, rounds: 0, waiting: new Map(), responses: {}, requestState: undefined });
    return true;
  }

  /** A modern client's request: the child must speak its version (else -32022, as the child would say). */
  #passThrough(req: JsonRpcRequest, version: unknown): boolean {
    const supported = this.#supportedVersions();
    if (typeof version !== 'string' || !supported.includes(version)) {
      this.#toHub(errorResponse(req.id, RpcCode.unsupportedProtocolVersion, 'Unsupported protocol version', { supported, requested: version }));
      return true;
    }
    return this.#toChild(req);
  }

  #initialize(req: JsonRpcRequest, params: JsonObject): boolean {
    if (isObject(params.capabilities)) this.#clientCapabilities = legacyToModernCapabilities(params.capabilities);
    if (isObject(params.clientInfo)) this.#clientInfo = params.clientInfo;
    const discover = this.#discover;
    const capabilities: JsonObject = isObject(discover.capabilities) ? structuredClone(discover.capabilities) : {};
    delete capabilities.tasks;
    capabilities.logging ??= {}; // emulated: setLevel is answered here and sent as _meta.logLevel
    const discoverMeta = isObject(discover._meta) ? discover._meta : {};
    const serverInfo = isObject(discoverMeta[SERVER_INFO_KEY]) ? discoverMeta[SERVER_INFO_KEY] : { name: 'mcp-server', version: '0.0.0' };
    const result: JsonObject = {
      protocolVersion: isLegacyVersion(params.protocolVersion) ? params.protocolVersion : LATEST_LEGACY_VERSION,
      capabilities,
      serverInfo,
    };
    if (typeof discover.instructions === 'string') result.instructions = discover.instructions;
    return this.#answer(req.id, result);
  }

  #hubNotification(msg: JsonRpcNotification): boolean {
    const params = isObject(msg.params) ? msg.params : undefined;
    switch (msg.method) {
      case 'notifications/initialized':
        this.#listen.want();
        return true;
      case 'notifications/roots/list_changed':
        return true; // removed in 2026-07-28; roots travel with each request's capabilities
      case 'notifications/cancelled': {
        const call = params === undefined ? undefined : this.#findCall(params.requestId);
        if (call === undefined) return this.#toChild(msg);
        const childId = this.#childIdOf(call);
        this.#dropCall(call);
        if (childId === undefined) return true; // between rounds: nothing is running at the child
        return this.#toChild({ ...msg, params: { ...params, requestId: childId } });
      }
    }
    return this.#toChild(msg);
  }

  /** The Hub relays a client's answer to a request; ours are input requests for an MRTR round. */
  #hubResponse(res: JsonRpcResponse): boolean {
    const input = typeof res.id === 'string' ? this.#inputs.get(res.id) : undefined;
    if (input === undefined) return typeof res.id === 'string' && res.id.startsWith(INPUT_PREFIX) ? true : this.#toChild(res);
    this.#inputs.delete(res.id as string);
    const { call, key } = input;
    call.waiting.delete(key);
    if (res.error !== undefined) {
      this.#dropCall(call);
      this.#toHub(errorResponse(call.upstreamId, res.error.code, `the client refused ${key}: ${res.error.message}`, res.error.data));
      return true;
    }
    call.responses[key] = res.result;
    if (call.waiting.size === 0) this.#retry(call);
    return true;
  }

  // ── child → Hub ───────────────────────────────────────────────────────────────────────────────────

  #childResponse(res: JsonRpcResponse): void {
    if (ChildListen.owns(res.id)) return this.#listen.ended(res.id, res.error === undefined);
    const call = res.id === null ? undefined : this.#calls.get(res.id);
    if (call === undefined) return this.#toHub(res); // a modern client's call, or late: the Hub decides
    this.#calls.delete(res.id!);
    if (res.error !== undefined) return this.#toHub({ ...res, id: call.upstreamId });
    const result = isObject(res.result) ? res.result : {};
    if (result.resultType === 'input_required') return this.#inputRequired(call, result);
    this.#toHub(resultResponse(call.upstreamId, legacyResult(result)));
  }

  #childNotification(msg: JsonRpcNotification): void {
    const params = isObject(msg.params) ? msg.params : undefined;
    const meta = isObject(params?._meta) ? params._meta : undefined;
    const subscriptionId = meta?.[SUBSCRIPTION_ID_KEY];
    if (ChildListen.owns(subscriptionId)) {
      if (msg.method === 'notifications/subscriptions/acknowledged') return;
      const rest = { ...meta };
      delete rest[SUBSCRIPTION_ID_KEY];
      const plain: JsonObject = { ...params };
      if (Object.keys(rest).length > 0) plain._meta = rest;
      else delete plain._meta;
      return this.#toHub({ jsonrpc: '2.0', method: msg.method, params: plain });
    }
    if (msg.method === 'notifications/cancelled' && ChildListen.owns(params?.requestId)) return this.#listen.ended(params.requestId, true);
    this.#toHub(msg);
  }

  // ── input_required (MRTR) ─────────────────────────────────────────────────────────────────────────

  #inputRequired(call: LegacyCall, result: JsonObject): void {
    call.rounds++;
    if (call.rounds > MAX_INPUT_ROUNDS) {
      return this.#toHub(errorResponse(call.upstreamId, RpcCode.internalError, `the MCP server asked for input more than ${MAX_INPUT_ROUNDS} times`));
    }
    call.requestState = typeof result.requestState === 'string' ? result.requestState : undefined;
    call.responses = {};
    const requests = isObject(result.inputRequests) ? Object.entries(result.inputRequests) : [];
    for (const [key, request] of requests) {
      if (!isObject(request) || typeof request.method !== 'string' || !INPUT_METHODS.has(request.method)) {
        this.#dropCall(call);
        return this.#toHub(errorResponse(call.upstreamId, RpcCode.internalError, `the MCP server asked for unsupported input ${JSON.stringify(key)}`));
      }
    }
    if (requests.length === 0) return this.#retry(call);
    for (const [key, request] of requests as Array<[string, JsonObject]>) {
      const inputId = `${INPUT_PREFIX}${this.#nextId++}`;
      call.waiting.set(key, inputId);
      this.#inputs.set(inputId, { call, key });
      const params: JsonObject = isObject(request.params) ? { ...request.params } : {};
      const meta = isObject(params._meta) ? params._meta : {};
      // 2026-07-28 dropped elicitationId; a 2025-11-25 client requires one on a URL elicitation (MCP-ERAS §3.3).
      if (request.method === 'elicitation/create' && params.mode === 'url') params.elicitationId ??= inputId;
      // The Hub routes this to the client whose call it is, and strips the hint.
      this.#toHub({
        jsonrpc: '2.0', id: inputId, method: request.method as string,
        params: { ...params, _meta: { ...meta, [RELATED_REQUEST_META]: call.upstreamId } },
      });
    }
  }

  /** Re-sends the original request with a new id, this round's answers and the child's state verbatim. */
  #retry(call: LegacyCall): void {
    const params: JsonObject = { ...call.request.params, inputResponses: call.responses };
    if (call.requestState !== undefined) params.requestState = call.requestState;
    else delete params.requestState;
    const retryId = `${RETRY_PREFIX}${this.#nextId++}`;
    if (!this.#toChild({ ...call.request, id: retryId, params })) {
      return this.#toHub(errorResponse(call.upstreamId, RpcCode.serverError, 'upstream unavailable: not accepting input'));
    }
    this.#calls.set(retryId, call);
  }

  /** The call whose Hub id is `upstreamId`, wherever it is in its rounds. */
  #findCall(upstreamId: unknown): LegacyCall | undefined {
    for (const call of this.#calls.values()) if (call.upstreamId === upstreamId) return call;
    for (const { call } of this.#inputs.values()) if (call.upstreamId === upstreamId) return call;
    return undefined;
  }

  #childIdOf(call: LegacyCall): JsonRpcId | undefined {
    for (const [childId, entry] of this.#calls) if (entry === call) return childId;
    return undefined;
  }

  /** Forgets a call: its open input requests are withdrawn from the client (the Hub forwards the cancel). */
  #dropCall(call: LegacyCall): void {
    for (const inputId of call.waiting.values()) {
      this.#inputs.delete(inputId);
      this.#toHub({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: inputId, reason: 'request ended' } });
    }
    call.waiting.clear();
    const childId = this.#childIdOf(call);
    if (childId !== undefined) this.#calls.delete(childId);
  }

  // ── helpers ───────────────────────────────────────────────────────────────────────────────────────

  #envelope(ownLevel?: unknown): JsonObject {
    const envelope: JsonObject = {
      [PROTOCOL_VERSION_KEY]: this.#opts.version,
      [CLIENT_CAPABILITIES_KEY]: this.#clientCapabilities,
    };
    if (this.#clientInfo !== undefined) envelope[CLIENT_INFO_KEY] = this.#clientInfo;
    const level = typeof ownLevel === 'string' ? ownLevel : this.#logLevel;
    if (level !== undefined) envelope[LOG_LEVEL_KEY] = level;
    return envelope;
  }

  #supportedVersions(): string[] {
    const listed = this.#discover.supportedVersions;
    const versions = Array.isArray(listed) ? listed.filter((v): v is string => typeof v === 'string') : [];
    return versions.length > 0 ? versions : [this.#opts.version];
  }

  #answer(id: JsonRpcId, result: JsonObject): true {
    this.#toHub(resultResponse(id, result));
    return true;
  }
}
