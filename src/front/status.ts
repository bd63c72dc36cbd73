/** GET /status: each server's state, children, last error, catalog counts and sessions, as JSON operators script against. */
import type { Registry } from '../servers/registry.ts';
import type { Routes } from './routes.ts';

export function buildStatus(registry: Registry, routes: Routes, startedMs: number): unknown {
  const aggregate = routes.aggregate;
  const sessionsOf = new Map(routes.endpoints.map(({ server, endpoint }) => [server, endpoint.ctx.sessions.countByTransport()]));
  const view = aggregate?.view;
  return {
    uptimeS: Math.round((Date.now() - startedMs) / 1000),
    servers: registry.units.map((unit) => {
      const catalog = aggregate?.catalogOf(unit.spec.name);
      const lists = catalog?.snapshot?.lists;
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
        lastError: unit.notReadyReason() ?? catalog?.lastError,
        counts: lists === undefined ? undefined : {
          tools: lists.tools.length, prompts: lists.prompts.length, resources: lists.resources.length, resourceTemplates: lists.resourceTemplates.length,
        },
        sessions: sessionsOf.get(unit.spec.name),
      };
    }),
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
