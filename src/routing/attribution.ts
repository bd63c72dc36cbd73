/**
 * Which client a child's request (sampling, elicitation, roots) is for. Pure: the Hub's calls and
 * sessions in, a verdict out.
 */
import type { JsonRpcId } from '../protocol/message.ts';
import type { Call, SessionState } from './hub-types.ts';

export type Attribution = { sessionId: string; relatedId: JsonRpcId | undefined } | 'ambiguous' | undefined;

/** The only calls a 2026-07-28 caller can be asked something during (spec: MRTR). */
const MRTR_METHODS = new Set(['tools/call', 'prompts/get', 'resources/read']);

/**
 * `known`: the call a layer below linked the request to (a modern child's adapter does). Otherwise
 * stdio carries no link (MCP-ERAS §3.3), so a 2026-07-28 caller, which answers with a parked call and a
 * signed retry, is asked only when its call is the one MRTR-capable call in flight: anything else
 * could complete the wrong call. `roots/list` is never put to one by guess: a legacy server asks for
 * the roots of its connection (server-everything does right after `initialized`), not as one call's
 * input. Legacy sessions answer at any time: the newest call in flight, else the most recently
 * active session. Undefined: nobody can answer (the Hub answers roots itself).
 */
export function attribute(known: Call | undefined, method: string, calls: Iterable<Call>, sessions: ReadonlyMap<string, SessionState>): Attribution {
  if (known?.sessionId !== undefined) return { sessionId: known.sessionId, relatedId: known.clientId };
  let newestLegacy: Call | undefined;
  const candidates: Call[] = [];
  for (const call of calls) {
    const session = call.sessionId === undefined ? undefined : sessions.get(call.sessionId);
    if (session === undefined) continue;
    if (!session.isStateless) {
      candidates.push(call);
      if (newestLegacy === undefined || call.startedMs >= newestLegacy.startedMs) newestLegacy = call;
    } else if (MRTR_METHODS.has(call.method) && method !== 'roots/list') {
      candidates.push(call);
    }
  }
  const stateless = candidates.find((call) => sessions.get(call.sessionId!)!.isStateless);
  if (stateless !== undefined) {
    return candidates.length === 1 ? { sessionId: stateless.sessionId!, relatedId: stateless.clientId } : 'ambiguous';
  }
  if (newestLegacy !== undefined) return { sessionId: newestLegacy.sessionId!, relatedId: newestLegacy.clientId };
  let active: [string, SessionState] | undefined;
  for (const entry of sessions) {
    const session = entry[1];
    if (session.isInitialized && !session.isStateless && (active === undefined || session.lastActiveMs >= active[1].lastActiveMs)) active = entry;
  }
  return active === undefined ? undefined : { sessionId: active[0], relatedId: undefined };
}

/**
 * The 2026-07-28 caller a child's log message is for: stdio carries no link (MCP-ERAS §3.4), so only
 * when its call is the one client call in flight; otherwise nobody's (legacy sessions get it unsolicited).
 */
export function logOwner(calls: Iterable<Call>, sessions: ReadonlyMap<string, SessionState>): Call | undefined {
  let only: Call | undefined;
  for (const call of calls) {
    if (call.sessionId === undefined) continue;
    if (only !== undefined) return undefined;
    only = call;
  }
  return only !== undefined && sessions.get(only.sessionId!)?.isStateless === true ? only : undefined;
}
