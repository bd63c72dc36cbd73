// mcpproxy with a servers file (--config): idle memory with many lazy servers, the aggregate's
// tools/list, and one call's cost through the aggregate against the same member's own route, in
// one proxy process. mcpproxy only: the peers serve one stdio server each.
import { makeAgent, type McpSession } from './client.ts';
import { StreamableSession } from './streamable-session.ts';
import { FIXTURE, type Running } from './peers.ts';
import { rssKiB, sleep } from './processes.ts';
import { echoStep, latency, newCounts, recordError, type Counts, type Step } from './phases.ts';
import type { Cell, Figures } from './report.ts';
import { getStatus, waitListed, withServersFile } from './servers-file.ts';

export interface MultiSettings {
  warmup: number;
  calls: number;
  /** Timed aggregate tools/list calls. */
  listCalls: number;
  lazyServers: number;
  eagerServers: number;
}

const OPEN_TIMEOUT_MS = 10_000;
/** The member both call rows go through: `/servers/fault/mcp` (`echo`) and `/mcp` (`fault__echo`). */
const MEMBER = 'fault';

export function defineMultiFigures(f: Figures, s: MultiSettings): void {
  f.add('lazyRss', `proxy RSS, ${s.lazyServers} lazy servers configured, no client`, 'MiB', 'lower');
  f.add('aggList50', `aggregate tools/list p50, ${s.eagerServers} members`, 'ms', 'lower', 'streamable');
  f.add('aggList99', `aggregate tools/list p99, ${s.eagerServers} members`, 'ms', 'lower', 'streamable');
  for (const [key, where] of [['route', 'per-server route'], ['agg', 'aggregate']] as const) {
    f.add(`${key}P50`, `${where}: sequential call p50`, 'ms', 'lower', 'streamable');
    f.add(`${key}P99`, `${where}: sequential call p99`, 'ms', 'lower', 'streamable');
    f.add(`${key}Cpu`, `${where}: CPU per sequential call`, 'µs', 'lower', 'streamable');
  }
}

/** Keys of the rows above, for marking the columns that have none. */
export const MULTI_KEYS = ['lazyRss', 'aggList50', 'aggList99', 'routeP50', 'routeP99', 'routeCpu', 'aggP50', 'aggP99', 'aggCpu'];

/** A servers file of `n` fixture entries (`fault`, `fault-2`, …), all with the same lifecycle. */
function withConfig<T>(n: number, lifecycle: 'lazy' | 'eager', notes: string[], body: (run: Running) => Promise<T>): Promise<T> {
  const mcpServers: Record<string, unknown> = {};
  for (let i = 1; i <= n; i++) {
    mcpServers[i === 1 ? MEMBER : `${MEMBER}-${i}`] = { command: process.execPath, args: [FIXTURE], lifecycle };
  }
  return withServersFile(mcpServers, `${n} ${lifecycle}`, notes, body);
}

/** RSS after 1 s of quiet with `lazyServers` configured and never used; no member may have a child. */
async function lazyIdle(f: Figures, s: MultiSettings, notes: string[]): Promise<void> {
  const c = newCounts();
  try {
    await withConfig(s.lazyServers, 'lazy', notes, async (run) => {
      await sleep(1_000);
      const kib = rssKiB(run.pid);
      const servers = await getStatus(run);
      const running = servers.filter((x) => (x.pids?.length ?? 0) > 0 || (x.children ?? 0) > 0);
      if (servers.length !== s.lazyServers) recordError(c, 'status', `${servers.length}/${s.lazyServers} servers listed`);
      if (running.length > 0) recordError(c, 'lazy servers', `children running for ${running.map((x) => x.name).join(', ')}`);
      else c.ok++;
      f.set('lazyRss', undefined, 'mcpproxy', { value: kib === undefined ? NaN : kib / 1024, counts: c });
    });
  } catch (err) {
    recordError(c, 'lazy servers', err);
    f.set('lazyRss', undefined, 'mcpproxy', { value: NaN, counts: c });
  }
}

function listStep(expected: number): Step {
  return async (session: McpSession, _i: number, c: Counts) => {
    const reply = await session.call('tools/list', {}, 10_000);
    const tools = (reply.result as { tools?: unknown[] } | undefined)?.tools;
    if (Array.isArray(tools) && tools.length === expected) {
      c.ok++;
      return true;
    }
    c.wrong++;
    if (c.examples.length < 5) c.examples.push(`tools/list: ${Array.isArray(tools) ? tools.length : 'no'} tools, expected ${expected}`);
    return false;
  };
}

function measured(value: number, counts: Counts): Cell {
  return { value, counts };
}

/** The eager phases, all on one proxy: aggregate tools/list, then the same echo on the member's route and through the aggregate. */
async function eagerPhases(f: Figures, s: MultiSettings, notes: string[]): Promise<void> {
  await withConfig(s.eagerServers, 'eager', notes, async (run) => {
    const tools = await waitListed(run, s.eagerServers);
    const agent = makeAgent();
    try {
      const open = (mcpPath: string) => () => StreamableSession.open(run.baseUrl, agent, OPEN_TIMEOUT_MS, mcpPath);
      const list = await latency(open('/mcp'), Math.min(s.warmup, 50), s.listCalls, 120_000, { step: listStep(tools) });
      f.set('aggList50', 'streamable', 'mcpproxy', measured(list.p50Ms, list.counts));
      f.set('aggList99', 'streamable', 'mcpproxy', measured(list.p99Ms, list.counts));
      const routes = [['route', `/servers/${MEMBER}/mcp`, 'echo'], ['agg', '/mcp', `${MEMBER}__echo`]] as const;
      for (const [key, mcpPath, tool] of routes) {
        const r = await latency(open(mcpPath), s.warmup, s.calls, 120_000, { step: echoStep(tool), cpuPid: run.pid });
        f.set(`${key}P50`, 'streamable', 'mcpproxy', measured(r.p50Ms, r.counts));
        f.set(`${key}P99`, 'streamable', 'mcpproxy', measured(r.p99Ms, r.counts));
        f.set(`${key}Cpu`, 'streamable', 'mcpproxy', measured(r.cpuUsPerCall, r.counts));
      }
    } finally {
      agent.destroy();
    }
  });
}

/** Every multi-server row; a phase that fails marks its rows failed and the others still run. */
export async function runMultiServer(f: Figures, s: MultiSettings, notes: string[], progress: (msg: string) => void): Promise<void> {
  progress(`mcpproxy --config: ${s.lazyServers} lazy servers idle`);
  await lazyIdle(f, s, notes);
  progress(`mcpproxy --config: ${s.eagerServers} eager members: tools/list, route vs aggregate`);
  try {
    await eagerPhases(f, s, notes);
  } catch (err) {
    f.failUnset((key) => MULTI_KEYS.slice(1).includes(key), 'mcpproxy --config', err);
  }
}
