/**
 * GET /status and the console's stream: each server's state, children and what they cost, sessions,
 * the last minutes of calls and errors, and the proxy's own cost, as JSON operators script against.
 */
import { VERSION } from '../config/version.ts';
import type { CallError, CallPoint } from '../observe/call-window.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { ProcSampler, ProcessCost, SelfCost } from '../observe/proc-stats.ts';
import type { PrincipalSessions } from '../downstream/sessions.ts';
import type { Registry } from '../servers/registry.ts';
import type { Routes } from './routes.ts';

/** Session ids are capabilities (they let a holder post to the session): only a prefix is shown. */
const SESSION_PREFIX_CHARS = 8;
/** The `session` of an independent server's child that serves stateless callers, not a session. */
const STATELESS_CHILD = '~stateless';

export interface StatusSources {
  registry: Registry;
  routes: Routes;
  metrics: Metrics;
  sampler: ProcSampler;
  startedMs: number;
}

export interface ChildStatus extends ProcessCost {
  server: string;
  /** Independent mode: the first characters of the session the child serves. */
  session?: string;
  /** `childPer: principal`: the principal id the child runs for (as in `sessions.principals[].id`). */
  principal?: string;
}

export interface SessionsStatus {
  total: number;
  byTransport: Record<string, number>;
  byEra: Record<string, number>;
  /** How long the longest-quiet Streamable HTTP session has sent nothing. */
  oldestIdleS: number | undefined;
  /** Sessions per identity (named keys, OAuth subjects); empty when the proxy runs without identities. */
  principals: PrincipalSessions[];
}

export interface Status {
  version: string;
  timeMs: number;
  uptimeS: number;
  proxy: SelfCost;
  servers: unknown[];
  sessions: SessionsStatus;
  children: ChildStatus[];
  calls: { slotS: number; servers: Array<{ server: string; points: CallPoint[] }> };
  errors: CallError[];
  aggregate: unknown;
}

export function buildStatus({ registry, routes, metrics, sampler, startedMs }: StatusSources): Status {
  const nowMs = Date.now();
  const aggregate = routes.aggregate;
  const sessionsOf = new Map(routes.endpoints.map(({ server, endpoint }) => [server, endpoint.ctx.sessions.countByTransport()]));
  const children = childrenOf(registry, sampler, nowMs);
  const view = aggregate?.view;
  return {
    version: VERSION,
    timeMs: nowMs,
    uptimeS: Math.round((nowMs - startedMs) / 1000),
    proxy: sampler.self(),
    servers: registry.units.map((unit) => {
      const catalog = aggregate?.catalogOf(unit.spec.name);
      const lists = catalog?.snapshot?.lists;
      const own = children.filter((child) => child.server === unit.spec.name);
      return {
        name: unit.spec.name,
        state: unit.state,
        mode: unit.spec.shared ? 'shared' : 'independent',
        lifecycle: unit.spec.lifecycle,
        pids: unit.pids,
        replicas: unit.replicas,
        usage: unit.usage.map(({ pid, cpuSeconds, rssBytes }) => ({ pid, cpuSeconds: Math.round(cpuSeconds * 100) / 100, rssBytes })),
        sandbox: unit.sandboxSummary,
        children: unit.childCount,
        pending: unit.pendingCount,
        restarts: metrics.restartsOf(unit.spec.name),
        // How long its longest-running child has run: for a shared server, the time since its last (re)start.
        upS: own.length === 0 ? undefined : Math.max(...own.map((child) => child.ageS)),
        lastError: unit.notReadyReason() ?? catalog?.lastError,
        // What its child last wrote to stderr (bounded, secrets masked): why a server that fails, fails.
        stderr: unit.stderrTail,
        counts: lists === undefined ? undefined : {
          tools: lists.tools.length, prompts: lists.prompts.length, resources: lists.resources.length, resourceTemplates: lists.resourceTemplates.length,
        },
        sessions: sessionsOf.get(unit.spec.name),
      };
    }),
    sessions: sessionsSummary(routes, nowMs),
    children,
    calls: { slotS: metrics.calls.slotMs / 1000, servers: metrics.calls.series(nowMs) },
    errors: metrics.calls.errors(),
    aggregate: aggregate === undefined || view === undefined ? undefined : {
      sessions: sessionsOf.get('aggregate'),
      tools: view.lists.tools.length,
      prompts: view.lists.prompts.length,
      resources: view.lists.resources.length,
      shadowed: view.shadowed,
      renamed: view.renamed,
    },
  };
}

function childrenOf(registry: Registry, sampler: ProcSampler, nowMs: number): ChildStatus[] {
  const owner = new Map<number, { server: string; session?: string; principal?: string }>();
  for (const unit of registry.units) {
    for (const pid of unit.pids) owner.set(pid, { server: unit.spec.name });
    for (const { pid, session } of unit.childSessions) owner.set(pid, { server: unit.spec.name, session: session.slice(0, SESSION_PREFIX_CHARS) });
    // A child kept per principal serves that principal's sessions as well as its stateless calls.
    for (const { pid, principalId } of unit.statelessChildren) {
      owner.set(pid, principalId === undefined ? { server: unit.spec.name, session: STATELESS_CHILD } : { server: unit.spec.name, principal: principalId });
    }
  }
  return sampler.children([...owner.keys()], nowMs).map((cost) => ({ ...owner.get(cost.pid)!, ...cost }));
}

function sessionsSummary(routes: Routes, nowMs: number): SessionsStatus {
  const out: SessionsStatus = { total: 0, byTransport: {}, byEra: {}, oldestIdleS: undefined, principals: [] };
  const principals = new Map<string, PrincipalSessions>();
  let oldestIdleMs: number | undefined;
  for (const { endpoint } of routes.endpoints) {
    const table = endpoint.ctx.sessions;
    out.total += table.size;
    for (const [transport, count] of Object.entries(table.countByTransport())) out.byTransport[transport] = (out.byTransport[transport] ?? 0) + count;
    const { byEra, oldestIdleMs: idle, principals: own } = table.summary(nowMs);
    for (const [era, count] of Object.entries(byEra)) out.byEra[era] = (out.byEra[era] ?? 0) + count;
    for (const entry of own) {
      const seen = principals.get(entry.id);
      if (seen === undefined) principals.set(entry.id, { ...entry });
      else seen.sessions += entry.sessions;
    }
    if (idle !== undefined) oldestIdleMs = Math.max(oldestIdleMs ?? 0, idle);
  }
  out.principals = [...principals.values()];
  out.oldestIdleS = oldestIdleMs === undefined ? undefined : Math.round(oldestIdleMs / 1000);
  return out;
}
