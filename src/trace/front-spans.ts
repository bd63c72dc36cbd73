/**
 * The spans of one client session (or stateless call) at the front: a server span per request or
 * notification from the client, and a client span per request the proxy sends the client (sampling,
 * elicitation, roots) under the call it belongs to. Used by the session gate, the one place every
 * transport's messages pass.
 */
import { createHash } from 'node:crypto';
import { isObject, type JsonRpcId, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse } from '../protocol/message.ts';
import { mcpOperation } from './mcp-attributes.ts';
import { endWithAnswer, OpenSpans } from './open-spans.ts';
import { SpanKind, type Attributes, type Span } from './span.ts';
import { inject, tracing } from './tracer.ts';

export interface FrontSession {
  /** The endpoint's server label ('aggregate' at the root of a servers file). */
  server: string;
  transport: string;
  /** Undefined for a stateless call: it has no session. */
  sessionId: string | undefined;
  principalId: string;
}

/**
 * `mcp.session.id` as a digest: the real id lets whoever holds it use the session (with its principal's
 * credentials), so it is not sent to a collector; the digest still groups a session's spans.
 */
export function sessionDigest(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('hex').slice(0, 32);
}

export class FrontSpans {
  #attributes: Attributes;
  #toClient = new OpenSpans<string>();

  constructor(session: FrontSession) {
    const attributes: Attributes = {
      'mcpproxy.server': session.server,
      'mcpproxy.transport': session.transport,
      'network.transport': 'tcp',
      'network.protocol.name': 'http',
    };
    if (session.sessionId !== undefined) attributes['mcp.session.id'] = sessionDigest(session.sessionId);
    if (tracing.recordsEnduser) attributes['enduser.id'] = session.principalId;
    this.#attributes = attributes;
  }

  /** The server span of a client request, its context written into the request for what the proxy sends on. */
  request(msg: JsonRpcRequest): Span {
    const op = mcpOperation(msg.method, msg.params, msg.id);
    return tracing.passing(msg, op.spanName, SpanKind.server, Object.assign(op.attributes, this.#attributes), tracing.parentOf(msg) ?? tracing.caller());
  }

  /** A client notification: a server span that ends where it starts (there is no answer to wait for). */
  notification(msg: JsonRpcNotification, era: string | undefined): void {
    const op = mcpOperation(msg.method, msg.params, undefined);
    const span = tracing.passing(msg, op.spanName, SpanKind.server, Object.assign(op.attributes, this.#attributes, { 'mcp.protocol.version': era }), tracing.parentOf(msg) ?? tracing.caller());
    span.end();
  }

  /** A request the proxy sends the client, under `related` (the call it belongs to) unless it names a parent itself. */
  toClient(msg: JsonRpcRequest, related: Span | undefined): void {
    const op = mcpOperation(msg.method, msg.params, msg.id);
    const namesParent = isObject(msg.params) && isObject(msg.params._meta) && msg.params._meta.traceparent !== undefined;
    const parent = namesParent ? tracing.parentOf(msg) : related?.context;
    const span = tracing.start(op.spanName, SpanKind.client, parent, Object.assign(op.attributes, this.#attributes));
    inject(msg, span.context);
    this.#toClient.add(idKey(msg.id), span);
  }

  /** The client's answer to one of those requests. */
  fromClient(res: JsonRpcResponse): void {
    if (res.id === null) return;
    const span = this.#toClient.take(idKey(res.id));
    if (span !== undefined) endWithAnswer(span, res);
  }

  /** The session ended: what the client never answered ends as cancelled. */
  end(): void {
    this.#toClient.endAll('cancelled');
  }
}

const idKey = (id: JsonRpcId): string => `${typeof id}:${id}`;
