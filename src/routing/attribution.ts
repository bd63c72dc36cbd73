/**
 * Which client a child's request (sampling, elicitation, roots) is for. Pure: the Hub's calls and
 * sessions in, a verdict out.
 */
import type { JsonRpcId } from '../protocol/message.ts';
import type { Call, SessionState } from './hub-types.ts';

export type Attribution = { sessionId: string; relatedId: JsonRpcId | undefined } | 'ambiguous' | undefined;

/**
 * `known`: the call a layer below linked the request to (a modern child's adapter does). Otherwise
 * stdio carries no link, so the best evidence is the newest call in flight; with nothing in flight,
 * the most recently active session answers (e.g. `roots/list` right after `initialized`).
 */
export function attribute(known: Call | undefined, calls: Iterable<Call>, sessions: ReadonlyMap<string, SessionState>): Attribution {
  if (known?.sessionId !== undefined) return { sessionId: known.sessionId, relatedId: known.clientId };
  let newest: Call | undefined;
  const callers = new Set<string>();
  for (const call of calls) {
    if (call.sessionId === undefined) continue;
    callers.add(call.sessionId);
    if (newest === undefined || call.startedMs >= newest.startedMs) newest = call;
  }
  if (newest !== undefined) {
    // A stateless caller answers with a parked call and a signed retry: giving it another caller's
    // question would complete the wrong call, so with several callers in flight the child is refused.
    if (callers.size > 1 && [...callers].some((id) => sessions.get(id)?.isStateless === true)) return 'ambiguous';
    return { sessionId: newest.sessionId!, relatedId: newest.clientId };
  }
  let active: [string, SessionState] | undefined;
  for (const entry of sessions) {
    const session = entry[1];
    if (session.isInitialized && !session.isStateless && (active === undefined || session.lastActiveMs >= active[1].lastActiveMs)) active = entry;
  }
  return active === undefined ? undefined : { sessionId: active[0], relatedId: undefined };
}
