/**
 * The proxy's own steps inside a call, as INTERNAL spans: the aggregate's routing to a member (until
 * the member answers), a replica pick, a lazy member's start, a sandboxed child's spawn. Each is one
 * call from where the flow already passes, and a single branch when tracing is off.
 */
import type { JsonRpcId, JsonRpcRequest, JsonRpcResponse } from '../protocol/message.ts';
import { endWithAnswer, OpenSpans } from './open-spans.ts';
import { SpanKind, type Attributes, type Span } from './span.ts';
import { tracing } from './tracer.ts';

/** The aggregate's routed calls, per client session of it (a WeakMap: a session that goes takes its spans along). */
class RoutedCalls {
  #bySession = new WeakMap<object, OpenSpans<JsonRpcId>>();

  /** `req` goes to `member`: a span from here to its answer, which the request carries on. */
  routed(session: object, req: JsonRpcRequest, member: string): void {
    if (!tracing.isOn) return;
    const span = tracing.passing(req, `route ${member}`, SpanKind.internal, { 'mcp.method.name': req.method, 'mcpproxy.member': member });
    let open = this.#bySession.get(session);
    if (open === undefined) this.#bySession.set(session, (open = new OpenSpans()));
    open.add(req.id, span);
  }

  /** An answer on its way to the client. */
  answered(session: object, res: JsonRpcResponse): void {
    if (!tracing.isOn || res.id === null) return;
    const span = this.#bySession.get(session)?.take(res.id);
    if (span !== undefined) endWithAnswer(span, res);
  }
}

export const routedCalls = new RoutedCalls();

/** A pool sends `req` to replica `replica` (1-based): an instant span the request carries on. */
export function pickedReplica(req: JsonRpcRequest, replica: number): void {
  if (!tracing.isOn) return;
  tracing.passing(req, 'pick replica', SpanKind.internal, { 'mcp.method.name': req.method, 'mcpproxy.replica': replica }).end();
}

/** An INTERNAL span under the flow running now (a lazy start, a spawn); undefined when tracing is off. */
export function startInternal(name: string, attributes: Attributes): Span | undefined {
  return tracing.isOn ? tracing.start(name, SpanKind.internal, tracing.active(), attributes) : undefined;
}
