/**
 * What identity does to the messages of one session or stateless call, in one place for every
 * transport: tools a principal may not use are left out of `tools/list` and refused on `tools/call`
 * (403 insufficient_scope when a scope would allow it, so an OAuth client can step up; otherwise a
 * JSON-RPC error naming the missing permission), and every request that reaches a server is written
 * to the audit log when it ends. Arguments, results and tokens never reach the audit line.
 */
import type { Identity } from '../identity/identity.ts';
import type { Principal } from '../identity/principal.ts';
import type { AuditLog, AuditOutcome } from '../observe/audit.ts';
import { RpcCode } from '../protocol/errors.ts';
import { errorResponse, isObject, isRequest, isResponse, serialize, type JsonRpcId, type JsonRpcMessage, type JsonRpcResponse } from '../protocol/message.ts';
import type { ClientLink } from '../servers/contract.ts';
import { endWithAnswer } from '../trace/open-spans.ts';
import { FrontSpans } from '../trace/front-spans.ts';
import type { Span } from '../trace/span.ts';
import { tracing } from '../trace/tracer.ts';

export interface GateDeps {
  identity: Identity;
  audit: AuditLog | undefined;
  /** The server label of the endpoint ('aggregate' at the root of a servers file). */
  server: string;
  /** The endpoint's MCP path for the challenge's resource_metadata. */
  resourcePath: string;
}

interface Pending {
  method: string;
  name: string | undefined;
  id: JsonRpcId;
  startMs: number;
  bytesIn: number;
  /** The request's server span, when tracing is on. */
  span: Span | undefined;
}

/** The tool, prompt or resource a request names, for the audit line. */
function nameOf(method: string, params: unknown): string | undefined {
  if (!isObject(params)) return undefined;
  const value = method === 'resources/read' || method.startsWith('resources/') ? params.uri : params.name;
  return typeof value === 'string' ? value.slice(0, 200) : undefined;
}

const idKey = (id: JsonRpcId): string => `${typeof id}:${id}`;

function outcomeOf(msg: JsonRpcResponse): AuditOutcome {
  if (msg.error === undefined) return 'result';
  return /timed out/.test(msg.error.message) ? 'timeout' : 'error';
}

/** One session's (or stateless call's) view through identity: the principal, its requests in flight. */
export class SessionGate {
  readonly principal: Principal;
  era: string | undefined;
  client: { name: string; version: string } | undefined;
  #deps: GateDeps;
  #sessionId: string;
  #transport: string;
  #pending = new Map<string, Pending>();
  #spans: FrontSpans | undefined;

  constructor(deps: GateDeps, sessionId: string, principal: Principal, transport: string) {
    this.#deps = deps;
    this.#sessionId = sessionId;
    this.principal = principal;
    this.#transport = transport;
    const session = { server: deps.server, transport, sessionId: transport === 'stateless' ? undefined : sessionId, principalId: principal.id };
    this.#spans = tracing.isOn ? new FrontSpans(session) : undefined;
  }

  /** The context of the request with this client id, for the flow that forwards it. */
  spanOf(id: JsonRpcId): Span | undefined {
    return this.#spans === undefined ? undefined : this.#pending.get(idKey(id))?.span;
  }

  /**
   * A message from the client. Returns the answer to send instead when the request is refused here;
   * throws 403 (insufficient_scope) when a scope would allow it.
   */
  inbound(msg: JsonRpcMessage): JsonRpcResponse | undefined {
    if (!isRequest(msg)) {
      if (this.#spans !== undefined) this.#traceFromClient(this.#spans, msg);
      return undefined;
    }
    const name = nameOf(msg.method, msg.params);
    if (msg.method === 'initialize' && isObject(msg.params) && isObject(msg.params.clientInfo)) {
      const { name: client, version } = msg.params.clientInfo;
      this.client = { name: String(client).slice(0, 100), version: String(version).slice(0, 50) };
    }
    const span = this.#spans?.request(msg);
    const pending = { method: msg.method, name, id: msg.id, startMs: Date.now(), bytesIn: this.#deps.audit === undefined ? 0 : serialize(msg).length, span };
    if (msg.method === 'tools/call' && name !== undefined) {
      const verdict = this.#deps.identity.rules.check(this.principal, name);
      if (!verdict.allowed) {
        this.#write(pending, 'denied', 0);
        span?.set('mcpproxy.outcome', 'denied');
        span?.end('denied');
        const { authenticator } = this.#deps.identity;
        if (verdict.scopes.length > 0 && this.principal.kind === 'oauth') {
          const err = authenticator.insufficientScope(this.#deps.resourcePath, verdict.scopes);
          err.requestId = msg.id;
          throw err;
        }
        return errorResponse(msg.id, RpcCode.invalidParams, `tool ${name} is not allowed for ${this.principal.name}${verdict.scopes.length > 0 ? ` (needs scope ${verdict.scopes.join(' or ')})` : ''}`);
      }
    }
    if (this.#deps.audit !== undefined || msg.method === 'tools/list' || span !== undefined) this.#pending.set(idKey(msg.id), pending);
    return undefined;
  }

  /** A message for the client: ends the audit of its request, narrows a tools list. */
  outbound(msg: JsonRpcMessage, relatedId?: JsonRpcId): JsonRpcMessage {
    if (this.#spans !== undefined && isRequest(msg)) this.#spans.toClient(msg, relatedId === undefined ? undefined : this.spanOf(relatedId));
    if (!isResponse(msg) || msg.id === null) return msg;
    const pending = this.#pending.get(idKey(msg.id));
    if (pending === undefined) return msg;
    this.#pending.delete(idKey(msg.id));
    let out: JsonRpcMessage = msg;
    if (pending.method === 'initialize' && isObject(msg.result) && typeof msg.result.protocolVersion === 'string') this.era = msg.result.protocolVersion;
    if (pending.method === 'tools/list' && !this.#deps.identity.rules.isEmpty && isObject(msg.result) && Array.isArray(msg.result.tools)) {
      const tools = msg.result.tools.filter((tool) => isObject(tool) && typeof tool.name === 'string' && this.#deps.identity.rules.check(this.principal, tool.name).allowed);
      out = { ...msg, result: { ...msg.result, tools } };
    }
    if (this.#deps.audit !== undefined) this.#write(pending, outcomeOf(msg), serialize(out).length);
    if (pending.span !== undefined) this.#endSpan(pending.span, outcomeOf(msg), msg);
    return out;
  }

  /** The session or call ended: requests still in flight are audited as cancelled. */
  end(): void {
    for (const pending of this.#pending.values()) {
      this.#write(pending, 'cancelled', 0);
      pending.span?.end('cancelled');
    }
    this.#pending.clear();
    this.#spans?.end();
  }

  /** A client notification gets a span of its own; an answer ends the span of the request it answers. */
  #traceFromClient(spans: FrontSpans, msg: JsonRpcMessage): void {
    if (isResponse(msg)) spans.fromClient(msg);
    else spans.notification(msg, this.era);
  }

  #endSpan(span: Span, outcome: AuditOutcome, res: JsonRpcResponse): void {
    span.set('mcp.protocol.version', this.era);
    span.set('mcpproxy.outcome', outcome);
    if (outcome === 'timeout') span.end('timeout');
    else endWithAnswer(span, res);
  }

  #write(pending: Pending, outcome: AuditOutcome, bytesOut: number): void {
    this.#deps.audit?.record({
      time: new Date().toISOString(),
      principal: this.principal.id,
      auth: this.principal.kind,
      server: this.#deps.server,
      session: this.#sessionId,
      transport: this.#transport,
      era: this.era,
      method: pending.method,
      name: pending.name,
      id: pending.id,
      outcome,
      ms: Date.now() - pending.startMs,
      bytesIn: pending.bytesIn,
      bytesOut,
      client: this.client,
      trace_id: pending.span?.context.traceId,
      span_id: pending.span?.context.spanId,
    });
  }
}

/** A link whose messages pass the gate on their way to the client. */
export function gatedLink(gate: SessionGate, link: ClientLink): ClientLink {
  return {
    deliver: (msg, relatedId) => link.deliver(gate.outbound(msg, relatedId), relatedId),
    end: (reason) => link.end(reason),
    isReconnectable: link.isReconnectable,
  };
}

/** Sends `msg` through the gate: forwarded, answered here (refused), or thrown (step-up 403). */
export function passInbound(gate: SessionGate, link: ClientLink, msg: JsonRpcMessage, forward: (msg: JsonRpcMessage) => void): void {
  const refusal = gate.inbound(msg);
  // Within the request's span: what the forwarding logs, starts or sends finds its trace.
  const span = refusal === undefined && isRequest(msg) ? gate.spanOf(msg.id) : undefined;
  if (span !== undefined) tracing.within(span.context, () => forward(msg));
  else if (refusal === undefined) forward(msg);
  else link.deliver(refusal, (msg as { id?: JsonRpcId }).id);
}
