/**
 * One stateless (2026-07-28) call on a legacy child: its HTTP answer (JSON, or SSE once it has progress
 * or needs keeping alive), the child's server-to-client requests turned into `input_required`, and the
 * retry that completes the same parked call.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { ProxyContext } from '../context.ts';
import { RpcCode } from '../../protocol/errors.ts';
import { SseWriter } from '../../http/sse-writer.ts';
import {
  errorResponse, isObject, isRequest, isResponse, resultResponse,
  type JsonObject, type JsonRpcId, type JsonRpcMessage, type JsonRpcRequest, type JsonRpcResponse,
} from '../../protocol/message.ts';
import type { ClientLink, StatelessTarget } from '../../servers/contract.ts';
import type { ParamHeaderRegistry } from '../../protocol/param-headers.ts';
import type { Principal } from '../../identity/principal.ts';
import { digestOf } from './request-state.ts';
import { LOG_LEVEL_KEY } from '../../protocol/meta-keys.ts';
import { isLogLevel, MCP_LOG_LEVELS, type McpLogLevel } from '../../protocol/log-levels.ts';
import { mapError, shapeResult } from './shape.ts';
import { gatedLink, passInbound, type SessionGate } from '../session-gate.ts';

/** Only these may answer `input_required` (spec: MRTR). */
const MRTR_METHODS = new Set(['tools/call', 'prompts/get', 'resources/read']);
/** A child's server-to-client request → the client capability it needs. */
const INPUT_CAPABILITY: Record<string, string> = { 'elicitation/create': 'elicitation', 'sampling/createMessage': 'sampling', 'roots/list': 'roots' };
const PARKED_TTL_MS = 5 * 60_000;

/** What a call needs of the handler that runs it: the heartbeat, limits, the parked table and its gate. */
export interface CallOwner {
  readonly heartbeat: ProxyContext['heartbeat'];
  readonly maxStreamBufferBytes: number;
  readonly canPark: boolean;
  track(call: StatelessCall): void;
  untrack(call: StatelessCall): void;
  /** Parks a call waiting for the client's input; returns the requestState the retry carries. */
  park(call: StatelessCall, key: string, expiresMs: number): string;
  unpark(call: StatelessCall): void;
  gateFor(callId: string, principal: Principal, req: JsonRpcRequest): SessionGate;
}

/** One stateless call: its HTTP answer, or a chain of them across `input_required` rounds. */
export class StatelessCall implements ClientLink {
  readonly sessionId: string;
  #handler: CallOwner;
  #backend: StatelessTarget;
  #method: string;
  #forwardedId: JsonRpcId;
  #serverInfo: unknown;
  #capabilities: JsonObject;
  #paramHeaders: ParamHeaderRegistry;
  #res: ServerResponse;
  #replyId!: JsonRpcId;
  /** The progress token and log level of the request now waiting (the first, or the latest retry). */
  #progressToken: JsonRpcId | undefined;
  #logLevel: McpLogLevel | undefined;
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
    handler: CallOwner, backend: StatelessTarget, req: JsonRpcRequest, res: ServerResponse,
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
    this.#waitingOn(req);
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

  /**
   * A retry with the client's answer: the parked child request gets it; this response takes over, and
   * what the child says from now on goes out under the retry's id, progress token and log level.
   */
  resume(res: ServerResponse, retry: JsonRpcRequest, answer: unknown): void {
    const { proxyId } = this.parked!;
    this.parked = undefined;
    this.#state = 'running';
    this.#res = res;
    this.#waitingOn(retry);
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
    // Only notifications related to the request may share its stream (spec): its progress, and the
    // logs the Hub attributed to it when its level admits them (never without a level). List changes
    // reach modern callers through their listen streams.
    const params = isObject(msg.params) ? msg.params : {};
    if (msg.method === 'notifications/progress' && this.#progressToken !== undefined) {
      this.#stream().send(JSON.stringify({ ...msg, params: { ...params, progressToken: this.#progressToken } }));
    } else if (msg.method === 'notifications/message' && this.#admits(params.level)) {
      this.#stream().send(JSON.stringify(msg));
    }
  }

  end(): void {
    // The child is gone; the hub has already answered the call with an error.
  }

  /** Parked past its TTL: the child's request is refused and the call cancelled. */
  expire(): void {
    if (this.parked !== undefined) this.#backend.receive(this.sessionId, errorResponse(this.parked.proxyId, RpcCode.internalError, 'the client did not answer in time'));
    this.#close();
  }

  #waitingOn(req: JsonRpcRequest): void {
    const meta = isObject(req.params) && isObject(req.params._meta) ? req.params._meta : {};
    this.#replyId = req.id;
    this.#progressToken = typeof meta.progressToken === 'string' || typeof meta.progressToken === 'number' ? meta.progressToken : undefined;
    this.#logLevel = isLogLevel(meta[LOG_LEVEL_KEY]) ? meta[LOG_LEVEL_KEY] : undefined;
  }

  #admits(level: unknown): boolean {
    return this.#logLevel !== undefined && isLogLevel(level) && MCP_LOG_LEVELS.indexOf(level) >= MCP_LOG_LEVELS.indexOf(this.#logLevel);
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
    const missing = missingCapability(req, this.#capabilities);
    if (missing !== undefined) return this.#refuse(req, `the client did not declare the ${missing} capability`);
    if (!this.#handler.canPark) return this.#refuse(req, 'too many calls are waiting for client input');
    const key = `mcpproxy-${String(req.id)}`;
    const expiresMs = Date.now() + PARKED_TTL_MS;
    this.parked = { proxyId: req.id, key, expiresMs };
    this.#state = 'parked';
    const requestState = this.#handler.park(this, key, expiresMs);
    const params = isObject(req.params) ? { ...req.params } : {};
    delete params._meta;
    delete params.elicitationId; // removed in 2026-07-28: a URL elicitation completes with its answer
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

/**
 * The capability a child's request needs that the caller did not declare, if any. A URL-mode
 * elicitation needs `elicitation.url`; a form one `elicitation.form`, or an empty `elicitation` (the
 * spec reads `{}` as form only).
 */
function missingCapability(req: JsonRpcRequest, declared: JsonObject): string | undefined {
  const capability = INPUT_CAPABILITY[req.method]!;
  const given = declared[capability];
  if (!isObject(given)) return capability;
  if (capability !== 'elicitation') return undefined;
  const mode = isObject(req.params) && req.params.mode === 'url' ? 'url' : 'form';
  const isFormOnly = Object.keys(given).length === 0;
  return isObject(given[mode]) || (mode === 'form' && isFormOnly) ? undefined : `elicitation.${mode}`;
}

/** What a retry must repeat exactly: the method and params, without the MRTR fields and `_meta`. */
export function callIdentity(msg: JsonRpcRequest): unknown {
  const { inputResponses: _r, requestState: _s, _meta: _m, ...params } = isObject(msg.params) ? msg.params : {};
  return { method: msg.method, params };
}
