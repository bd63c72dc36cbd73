// The runs against each target (mcpproxy and the peers, the direct baseline, the floor): the same
// phases for every one, and what cannot run for a target recorded as such.
import type http from 'node:http';
import { makeAgent, type McpSession } from './client.ts';
import { SseSession } from './sse-session.ts';
import { StdioSession } from './stdio-session.ts';
import { StreamableSession } from './streamable-session.ts';
import { HttpToolsSession } from './http-tools-session.ts';
import { FIXTURE, isPerSessionChild, launch, supports, type Running, type TargetName, type Transport } from './peers.ts';
import { track } from './processes.ts';
import { bigReply, idleRss, latency, newCounts, openToFirstReply, pollFirstServed, recordError, throughput, median, type Counts, type OpenSession } from './phases.ts';
import { Figures, openFilesLimit, type Cell } from './report.ts';
import type { Settings } from './settings.ts';

const OPEN_TIMEOUT_MS = 10_000;

export function progress(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

export function good(value: number, counts?: Counts, note?: string): Cell {
  return { value, counts, note };
}
export function failed(err: unknown, counts: Counts = newCounts()): Cell {
  recordError(counts, 'phase', err);
  return { value: NaN, counts };
}

function directOpen(): Promise<StdioSession> {
  return StdioSession.open(process.execPath, [FIXTURE], OPEN_TIMEOUT_MS, track);
}

/** The floor: the fixture on a pipe. Throughput uses one child shared by all clients (unique ids). */
export async function runDirect(f: Figures, s: Settings): Promise<void> {
  progress('direct: latency');
  try {
    const r = await latency(directOpen, s.warmup, s.calls, 120_000);
    f.setAll('p50', 'direct', good(r.p50Ms, r.counts));
    f.setAll('p99', 'direct', good(r.p99Ms, r.counts));
  } catch (err) {
    f.setAll('p50', 'direct', failed(err));
    f.setAll('p99', 'direct', failed(err));
  }
  for (const n of s.clients) {
    progress(`direct: ${n} clients`);
    try {
      const shared = await directOpen();
      const view: McpSession = { call: (m, p, t) => shared.call(m, p, t), notify: (m, p) => shared.notify(m, p), strays: 0, close: async () => {} };
      try {
        const r = await throughput(async () => view, n, s.durationMs, 60_000);
        r.counts.strays += shared.strays;
        f.setAll(`tp${n}`, 'direct', good(r.perSecond, r.counts));
      } finally {
        await shared.close();
      }
    } catch (err) {
      f.setAll(`tp${n}`, 'direct', failed(err));
    }
  }
  progress('direct: big reply');
  try {
    const r = await bigReply(directOpen, s.bigBytes, s.bigReps);
    f.setAll('big', 'direct', good(r.medianMs, r.counts));
  } catch (err) {
    f.setAll('big', 'direct', failed(err));
  }
  progress('direct: spawn → first reply');
  const r = await openToFirstReply(directOpen, Math.max(s.independentReps, s.execReps));
  f.setAll('indep', 'direct', good(r.medianMs, r.counts, 'spawn → first reply'));
  f.setAll('exec', 'direct', good(r.medianMs, r.counts, 'spawn → first reply'));
  for (const key of ['rss0', ...s.idleSteps.map((n) => `rss${n}`)]) f.setAll(key, 'direct', { note: 'n/a' });
  f.setAll('cpu', 'direct', { note: 'n/a (no proxy)' });
}

function opener(run: Running, agent: http.Agent): OpenSession {
  return run.transport === 'sse'
    ? () => SseSession.open(run.baseUrl, agent, OPEN_TIMEOUT_MS, run.ssePath)
    : () => StreamableSession.open(run.baseUrl, agent, OPEN_TIMEOUT_MS, run.mcpPath);
}

/** Launches a target, runs `body`, always stops it and notes processes it left behind. */
async function withTarget<T>(name: TargetName, transport: Transport, independent: boolean, notes: string[],
  body: (run: Running, open: OpenSession) => Promise<T>): Promise<T> {
  const run = await launch(name, transport, { independent, fixedPort: false });
  const agent = makeAgent();
  try {
    return await body(run, opener(run, agent));
  } finally {
    agent.destroy();
    const crashed = run.hasExited();
    const stop = await run.stop();
    const mode = independent ? ' (independent)' : '';
    if (crashed) notes.push(`${run.label}${mode} had exited (code=${run.child.exitCode} signal=${run.child.signalCode}) before the end of its phase; output:\n\n    ${run.tail().replaceAll('\n', '\n    ')}`);
    if (stop.exit === 'sigkill') notes.push(`${run.label}${mode} ignored SIGTERM for 5 s and was SIGKILLed`);
    if (stop.leftBehind.length > 0) notes.push(`${run.label}${mode} left ${stop.leftBehind.length} process(es) alive 3 s after it exited on SIGTERM (pids ${stop.leftBehind.join(', ')}; killed by the bench)`);
  }
}

export async function runShared(f: Figures, s: Settings, name: TargetName, transport: Transport, notes: string[]): Promise<void> {
  try {
    await sharedPhases(f, s, name, transport, notes);
  } catch (err) {
    // The target did not start (or died between phases): every figure of this group failed.
    const counts = newCounts();
    recordError(counts, `${name}/${transport}`, err);
    for (const key of ['p50', 'p99', 'cpu', ...s.clients.map((n) => `tp${n}`), 'big']) {
      if (f.list.find((x) => x.key === key && x.transport === transport)?.cells[name] === undefined) {
        f.set(key, transport, name, { value: NaN, counts });
      }
    }
  }
}

async function sharedPhases(f: Figures, s: Settings, name: TargetName, transport: Transport, notes: string[]): Promise<void> {
  await withTarget(name, transport, false, notes, async (run, open) => {
    progress(`${run.label}: latency`);
    try {
      const r = await latency(open, s.warmup, s.calls, 120_000, { cpuPid: run.pid });
      f.set('p50', transport, name, good(r.p50Ms, r.counts));
      f.set('p99', transport, name, good(r.p99Ms, r.counts));
      f.set('cpu', transport, name, good(r.cpuUsPerCall, r.counts));
    } catch (err) {
      for (const key of ['p50', 'p99', 'cpu']) f.set(key, transport, name, failed(err));
    }
    for (const n of s.clients) {
      progress(`${run.label}: ${n} clients`);
      try {
        const r = await throughput(open, n, s.durationMs, isPerSessionChild(name, transport) ? 180_000 : 60_000);
        f.set(`tp${n}`, transport, name, good(r.perSecond, r.counts));
      } catch (err) {
        f.set(`tp${n}`, transport, name, failed(err));
      }
    }
    progress(`${run.label}: big reply`);
    try {
      const r = await bigReply(open, s.bigBytes, s.bigReps);
      f.set('big', transport, name, good(r.medianMs, r.counts));
    } catch (err) {
      f.set('big', transport, name, failed(err));
    }
  });
}

export async function runIdle(f: Figures, s: Settings, name: TargetName, notes: string[]): Promise<void> {
  const keys = ['rss0', ...s.idleSteps.map((n) => `rss${n}`)];
  try {
    await withTarget(name, 'sse', false, notes, async (run, open) => {
      progress(`${run.label}: idle sessions ${s.idleSteps.join(', ')}`);
      const fdBudget = (openFilesLimit() ?? 1024) - 300;
      const r = await idleRss(run, s.idleSteps, open, 300_000, fdBudget);
      for (const [i, key] of keys.entries()) {
        const step = i === 0 ? 0 : s.idleSteps[i - 1];
        const v = r.rssMiB.get(step);
        f.set(key, 'sse', name, v === undefined ? { value: NaN, counts: r.counts } : good(v, r.counts));
      }
    });
  } catch (err) {
    for (const key of keys) f.set(key, 'sse', name, failed(err));
  }
}

export async function runIndependent(f: Figures, s: Settings, name: TargetName, transport: Transport, notes: string[]): Promise<void> {
  if (!supports(name, transport, { independent: true, fixedPort: false })) {
    f.set('indep', transport, name, { note: 'n/a (shared only)' });
    return;
  }
  try {
    await withTarget(name, transport, true, notes, async (run, open) => {
      progress(`${run.label} (independent): open → first reply`);
      const r = await openToFirstReply(open, s.independentReps);
      f.set('indep', transport, name, good(r.medianMs, r.counts));
    });
  } catch (err) {
    f.set('indep', transport, name, failed(err));
  }
}

export async function runExec(f: Figures, s: Settings, name: TargetName, transport: Transport, notes: string[]): Promise<void> {
  progress(`${name}/${transport}: exec → first served request`);
  const c = newCounts();
  const times: number[] = [];
  for (let i = 0; i < s.execReps; i++) {
    try {
      const run = await launch(name, transport, { independent: false, fixedPort: true, waitReady: false });
      const agent = makeAgent();
      try {
        times.push(await pollFirstServed(run, opener(run, agent), 30_000, c));
      } finally {
        agent.destroy();
        const stop = await run.stop();
        if (stop.leftBehind.length > 0) notes.push(`${run.label} left ${stop.leftBehind.length} process(es) after SIGTERM (exec phase)`);
      }
    } catch (err) {
      recordError(c, `exec run ${i}`, err);
    }
  }
  f.set('exec', transport, name, good(times.length > 0 ? median(times) : NaN, c));
}

/** The OpenAPI facade of mcpproxy (shared child): the same echo phases over `POST /tools/echo`; the floor is direct's. */
export async function runHttpTools(f: Figures, s: Settings, notes: string[]): Promise<void> {
  const tp = `tools-tp${s.clients[0]}`;
  f.set('tools-p50', undefined, 'direct', f.list.find((x) => x.key === 'p50')!.cells.direct!);
  f.set(tp, undefined, 'direct', f.list.find((x) => x.key === tp.slice('tools-'.length))!.cells.direct!);
  try {
    await withTarget('mcpproxy', 'streamable', false, notes, async (run) => {
      const agent = makeAgent();
      const open = async (): Promise<McpSession> => new HttpToolsSession(run.baseUrl, agent);
      try {
        progress('mcpproxy: POST /tools/echo');
        const lat = await latency(open, s.warmup, s.calls, 120_000);
        f.set('tools-p50', undefined, 'mcpproxy', good(lat.p50Ms, lat.counts));
        const r = await throughput(open, s.clients[0]!, s.durationMs, 60_000);
        f.set(tp, undefined, 'mcpproxy', good(r.perSecond, r.counts));
      } finally {
        agent.destroy();
      }
    });
  } catch (err) {
    for (const key of ['tools-p50', tp]) f.set(key, undefined, 'mcpproxy', failed(err));
  }
  for (const key of ['tools-p50', tp]) for (const peer of ['supergateway', 'mcp-proxy'] as const) f.set(key, undefined, peer, { note: 'n/a' });
}
