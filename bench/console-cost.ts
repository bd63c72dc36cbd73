// Console cost (issue 17: "adds no measurable cost to the call path"): one mcpproxy --shared in
// front of the fixture, the same sequential echo timed with nobody watching, then with a console
// viewer attached: GET /status/stream (the live status snapshots the page reads, about once a
// second) held open and read as it comes by this process.
import http from 'node:http';
import { BenchError, makeAgent } from './client.ts';
import { SseParser } from './sse-parser.ts';
import { StreamableSession } from './streamable-session.ts';
import { withOwnProxy } from './own-proxy.ts';
import type { Running } from './peers.ts';
import { latency, type LatencyResult, type OpenSession } from './phases.ts';
import type { Figures } from './report.ts';

/** `consoleCalls`: enough for several snapshots to arrive during the watched phase. */
export interface ConsoleSettings { warmup: number; consoleCalls: number }

const OPEN_TIMEOUT_MS = 10_000;
const PHASES = [{ key: 'off', label: 'nobody watching' }, { key: 'on', label: 'a console viewer on /status/stream' }] as const;
const MEASURES = [
  { key: 'p50', title: 'sequential call p50', unit: 'ms' },
  { key: 'p99', title: 'sequential call p99', unit: 'ms' },
  { key: 'cpu', title: 'CPU per sequential call (proxy process)', unit: 'µs' },
] as const;

export function defineConsoleFigures(f: Figures): void {
  for (const { key, label } of PHASES) for (const m of MEASURES) f.add(`con-${key}-${m.key}`, `console, ${label}: ${m.title}`, m.unit, 'lower', 'streamable');
  for (const m of MEASURES) f.add(`con-${m.key}x`, `console: ${m.title}, watched ÷ unwatched`, '×', 'lower', 'streamable');
}

/** The three measures of one latency run, in MEASURES order. */
function values(r: LatencyResult): number[] {
  return [r.p50Ms, r.p99Ms, r.cpuUsPerCall];
}

/** GET /status/stream held open and read like the page does; resolves once the first snapshot (sent at once) arrived. */
function watch(run: Running): Promise<{ snapshots: () => number; close: () => void }> {
  return new Promise((resolve, reject) => {
    let snapshots = 0;
    const timer = setTimeout(() => req.destroy(new BenchError('BENCH_TIMEOUT', `GET /status/stream: no snapshot in ${OPEN_TIMEOUT_MS} ms`)), OPEN_TIMEOUT_MS);
    const req = http.get(`${run.baseUrl}/status/stream`, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return req.destroy(new BenchError('BENCH_HTTP_STATUS', `GET /status/stream: ${res.statusCode}`));
      const parser = new SseParser((e) => {
        if (e.event !== 'status') return;
        if (snapshots++ > 0) return;
        clearTimeout(timer);
        resolve({ snapshots: () => snapshots, close: () => req.destroy() });
      });
      res.on('data', (chunk: Buffer) => {
        try {
          parser.feed(chunk);
        } catch (err) {
          req.destroy(err as Error);
        }
      });
      res.on('close', () => req.destroy(new BenchError('BENCH_STREAM_CLOSED', 'GET /status/stream: closed before a snapshot')));
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

async function measure(f: Figures, s: ConsoleSettings, run: Running, notes: string[]): Promise<void> {
  const agent = makeAgent();
  const open: OpenSession = () => StreamableSession.open(run.baseUrl, agent, OPEN_TIMEOUT_MS, run.mcpPath);
  const timed = (): Promise<LatencyResult> => latency(open, s.warmup, s.consoleCalls, 300_000, { cpuPid: run.pid });
  try {
    const off = await timed();
    const viewer = await watch(run);
    const t0 = performance.now();
    let on: LatencyResult;
    try {
      on = await timed();
    } finally {
      viewer.close();
    }
    notes.push(`Console viewer: read ${viewer.snapshots()} status snapshots in the ${((performance.now() - t0) / 1000).toFixed(1)} s ` +
      'of its phase (one at once, then about one a second), in the same proxy process as the unwatched phase before it.');
    const [offValues, onValues] = [values(off), values(on)];
    for (const [i, m] of MEASURES.entries()) {
      f.set(`con-off-${m.key}`, 'streamable', 'mcpproxy', { value: offValues[i]!, counts: off.counts });
      f.set(`con-on-${m.key}`, 'streamable', 'mcpproxy', { value: onValues[i]!, counts: on.counts });
      f.set(`con-${m.key}x`, 'streamable', 'mcpproxy', { value: onValues[i]! / offValues[i]! });
    }
  } finally {
    agent.destroy();
  }
}

export function runConsoleCost(f: Figures, s: ConsoleSettings, notes: string[], progress: (msg: string) => void): Promise<void> {
  return withOwnProxy(f, 'con-', notes, undefined, (run) => {
    progress('console: sequential echo unwatched, then with /status/stream open');
    return measure(f, s, run, notes);
  });
}
