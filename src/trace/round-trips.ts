/**
 * The client spans of one upstream (a stdio child or a remote member): one per request the proxy
 * sends it, from the write to its answer, whose context the request carries on in `params._meta`
 * (and, for a remote member, in the `traceparent` header: the send runs with it active).
 */
import { isNotification, isObject, isRequest, isResponse, type JsonRpcId, type JsonRpcMessage, type JsonRpcResponse } from '../protocol/message.ts';
import { mcpOperation } from './mcp-attributes.ts';
import { endWithAnswer, OpenSpans } from './open-spans.ts';
import { SpanKind, type Attributes } from './span.ts';
import { tracing } from './tracer.ts';

/** What a round trip's span says about the peer: `mcpproxy.server`, `network.transport`, `server.address`… */
export function peerAttributes(server: string, remoteUrl: string | undefined): Attributes {
  if (remoteUrl === undefined) return { 'mcpproxy.server': server, 'network.transport': 'pipe' };
  const url = new URL(remoteUrl);
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return { 'mcpproxy.server': server, 'network.transport': 'tcp', 'network.protocol.name': 'http', 'server.address': url.hostname, 'server.port': port };
}

export class RoundTrips {
  #peer: Attributes;
  #open = new OpenSpans<JsonRpcId>();

  constructor(peer: Attributes) {
    this.#peer = peer;
  }

  /** Sends `msg` with `write`; a request gets its client span first (an adapter may answer at once). */
  send<T>(msg: JsonRpcMessage, write: (msg: JsonRpcMessage) => T): T {
    if (!isRequest(msg)) {
      if (isNotification(msg) && msg.method === 'notifications/cancelled' && isObject(msg.params)) this.#open.take(msg.params.requestId as JsonRpcId)?.end('cancelled');
      return write(msg);
    }
    const op = mcpOperation(msg.method, msg.params, msg.id);
    const span = tracing.passing(msg, op.spanName, SpanKind.client, Object.assign(op.attributes, this.#peer));
    this.#open.add(msg.id, span);
    return tracing.within(span.context, () => write(msg));
  }

  /** A message from the upstream, passed to `deliver`: an answer ends its request's span, and is delivered within it. */
  received(msg: JsonRpcMessage, deliver: (msg: JsonRpcMessage) => void): void {
    const span = isResponse(msg) && msg.id !== null ? this.#open.take(msg.id) : undefined;
    if (span === undefined) return deliver(msg);
    endWithAnswer(span, msg as JsonRpcResponse);
    tracing.within(span.context, () => deliver(msg));
  }

  /** The upstream went away: what it had not answered ends as `upstream_down`. */
  lost(): void {
    this.#open.endAll('upstream_down');
  }
}
