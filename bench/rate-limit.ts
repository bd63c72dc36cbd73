// Rate-limit fairness (issue 13): mcpproxy --shared with two named keys (quiet, flooder) and
// --rate-limit per principal, in front of the fixture. The quiet principal's paced sequential echo
// is timed alone, then while the flooder's sessions (bench/flooder.ts, a process of its own) call
// flat out and mostly get 429. Paced so the quiet client stays well under its own limit: the rows
// measure what the flooder does to it, not its own bucket.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { BenchError, makeAgent } from './client.ts';
import { StreamableSession } from './streamable-session.ts';
import type { FloodReport } from './flooder.ts';
import { withOwnProxy } from './own-proxy.ts';
import { ROOT, type Running } from './peers.ts';
import { track } from './processes.ts';
import { latency, type LatencyResult, type OpenSession } from './phases.ts';
import type { Figures } from './report.ts';

export interface FairnessSettings {
  fairWarmup: number;
  fairCalls: number;
  /** The quiet client's pause before each call: at most 1000/fairGapMs calls/s. */
  fairGapMs: number;
  fairLimitPerS: number;
  floodClients: number;
}

const FLOODER = path.join(ROOT, 'bench/flooder.ts');
const OPEN_TIMEOUT_MS = 10_000;
const FLOOD_START_MS = 60_000;

export function defineFairnessFigures(f: Figures, s: FairnessSettings): void {
  const who = `rate limit ${s.fairLimitPerS}/s per principal, quiet principal (one call per ≥${s.fairGapMs} ms)`;
  const flood = `${s.floodClients} flooder clients calling flat out`;
  f.add('fair-alone-p50', `${who} alone: sequential call p50`, 'ms', 'lower', 'streamable');
  f.add('fair-alone-p99', `${who} alone: sequential call p99`, 'ms', 'lower', 'streamable');
  f.add('fair-alone-cpu', `${who} alone: CPU per call (proxy process)`, 'µs', 'lower', 'streamable');
  f.add('fair-flood-p50', `${who} beside ${flood}: sequential call p50`, 'ms', 'lower', 'streamable');
  f.add('fair-flood-p99', `${who} beside ${flood}: sequential call p99`, 'ms', 'lower', 'streamable');
  f.add('fair-flood-p50x', 'quiet principal p50, flooded ÷ alone', '×', 'lower', 'streamable');
  f.add('fair-flood-p99x', 'quiet principal p99, flooded ÷ alone', '×', 'lower', 'streamable');
  f.add('fair-admitted', `flooder: admitted, right replies/s (limit ${s.fairLimitPerS}/s)`, '1/s', 'lower', 'streamable');
  f.add('fair-refused', 'flooder: refused with 429 per second', '1/s', 'higher', 'streamable');
}

/** A fresh `name:key` file (mode 0600) for the two principals; the keys never leave this process and its children. */
function writeKeys(dir: string): { file: string; quiet: string; flooder: string } {
  const quiet = randomBytes(24).toString('hex');
  const flooder = randomBytes(24).toString('hex');
  const file = path.join(dir, 'keys');
  writeFileSync(file, `quiet:${quiet}\nflooder:${flooder}\n`, { mode: 0o600 });
  return { file, quiet, flooder };
}

/** The flooder started and flooding; `stop()` ends its stdin and resolves with its report. */
async function startFlooder(run: Running, clients: number, key: string): Promise<{ stop: () => Promise<FloodReport> }> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', FLOODER, run.baseUrl, String(clients)], {
    cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, BENCH_FLOOD_AUTH: `Bearer ${key}` },
  });
  track(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-2000); });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const nextLine = async (what: string, deadlineMs: number): Promise<string> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BenchError('BENCH_TIMEOUT', `flooder: no ${what} in ${deadlineMs} ms`)), deadlineMs);
    });
    try {
      const line = await Promise.race([lines.next(), late]);
      if (line.done === true) throw new BenchError('BENCH_FLOODER_EXIT', `flooder exited before ${what}: ${stderr}`);
      return line.value;
    } finally {
      clearTimeout(timer);
    }
  };
  try {
    const first = await nextLine('start', FLOOD_START_MS);
    if (first !== 'flooding') throw new BenchError('BENCH_FLOODER', `flooder said ${first.slice(0, 200)}`);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    stop: async () => {
      child.stdin.end();
      try {
        return JSON.parse(await nextLine('report', 30_000)) as FloodReport;
      } finally {
        child.kill('SIGKILL');
      }
    },
  };
}

function setLatency(f: Figures, phase: 'alone' | 'flood', r: LatencyResult): void {
  f.set(`fair-${phase}-p50`, 'streamable', 'mcpproxy', { value: r.p50Ms, counts: r.counts });
  f.set(`fair-${phase}-p99`, 'streamable', 'mcpproxy', { value: r.p99Ms, counts: r.counts });
  if (phase === 'alone') f.set('fair-alone-cpu', 'streamable', 'mcpproxy', { value: r.cpuUsPerCall, counts: r.counts });
}

async function measure(f: Figures, s: FairnessSettings, run: Running, keys: { quiet: string; flooder: string }): Promise<void> {
  const agent = makeAgent();
  const quiet: OpenSession = () => StreamableSession.open(run.baseUrl, agent, OPEN_TIMEOUT_MS, '/mcp', `Bearer ${keys.quiet}`);
  try {
    const alone = await latency(quiet, s.fairWarmup, s.fairCalls, 120_000, { cpuPid: run.pid, gapMs: s.fairGapMs });
    setLatency(f, 'alone', alone);
    const flooder = await startFlooder(run, s.floodClients, keys.flooder);
    let flooded: LatencyResult;
    try {
      flooded = await latency(quiet, s.fairWarmup, s.fairCalls, 120_000, { gapMs: s.fairGapMs });
    } finally {
      const report = await flooder.stop();
      const perS = (n: number): number => (n * 1000) / report.elapsedMs;
      f.set('fair-admitted', 'streamable', 'mcpproxy', { value: perS(report.counts.ok), counts: report.counts });
      f.set('fair-refused', 'streamable', 'mcpproxy', { value: perS(report.refused), counts: report.counts });
    }
    setLatency(f, 'flood', flooded);
    f.set('fair-flood-p50x', 'streamable', 'mcpproxy', { value: flooded.p50Ms / alone.p50Ms });
    f.set('fair-flood-p99x', 'streamable', 'mcpproxy', { value: flooded.p99Ms / alone.p99Ms });
  } finally {
    agent.destroy();
  }
}

export async function runFairness(f: Figures, s: FairnessSettings, notes: string[], progress: (msg: string) => void): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mcpproxy-bench-keys-'));
  try {
    const keys = writeKeys(dir);
    await withOwnProxy(f, 'fair-', notes, ['--auth-keys-file', keys.file, '--rate-limit', `${s.fairLimitPerS}/s`], (run) => {
      progress(`rate limit ${s.fairLimitPerS}/s: quiet principal alone, then beside ${s.floodClients} flooder clients`);
      return measure(f, s, run, keys);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
