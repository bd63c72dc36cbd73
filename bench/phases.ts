// The measurements themselves. Each phase is bounded in count and time, checks every reply's
// content (a wrong or missing reply is counted, never taken as throughput), and closes what it opened.
import type net from 'node:net';
import { BenchError, type McpSession } from './client.ts';
import { openIdleSse } from './sse-session.ts';
import type { Running } from './peers.ts';
import { HOST, cpuMs, rssKiB, sleep } from './processes.ts';

/** What went right and wrong in a phase; `examples` keeps the first few problems verbatim. */
export interface Counts {
  ok: number;
  wrong: number;
  errors: number;
  strays: number;
  examples: string[];
}

export function newCounts(): Counts {
  return { ok: 0, wrong: 0, errors: 0, strays: 0, examples: [] };
}

export function addCounts(into: Counts, from: Counts): void {
  into.ok += from.ok;
  into.wrong += from.wrong;
  into.errors += from.errors;
  into.strays += from.strays;
  for (const e of from.examples) note(into, e);
}

function note(c: Counts, what: string): void {
  if (c.examples.length < 5) c.examples.push(what.length > 400 ? `${what.slice(0, 400)}…` : what);
}

export function recordError(c: Counts, what: string, err: unknown): void {
  c.errors++;
  note(c, `${what}: ${err instanceof Error ? err.message : String(err)}`);
}

export type OpenSession = () => Promise<McpSession>;

const CALL_TIMEOUT_MS = 10_000;

/** Calls `tool` and checks the first text of its reply with `isRight`; a wrong reply is counted and noted. */
export async function checkedCall(s: McpSession, tool: string, args: Record<string, unknown>, isRight: (text: unknown) => boolean,
  c: Counts, timeoutMs = CALL_TIMEOUT_MS): Promise<boolean> {
  const reply = await s.call('tools/call', { name: tool, arguments: args }, timeoutMs);
  const got = (reply.result as { content?: Array<{ text?: unknown }> } | undefined)?.content?.[0]?.text;
  if (isRight(got)) {
    c.ok++;
    return true;
  }
  c.wrong++;
  note(c, `${tool} ${JSON.stringify(args)} → ${JSON.stringify(reply).slice(0, 300)}`);
  return false;
}

/** Calls `echo` (or the same tool under another name, e.g. `fault__echo` on the aggregate) and checks the reply is exactly the text sent. */
export function echo(s: McpSession, text: string, c: Counts, timeoutMs = CALL_TIMEOUT_MS, tool = 'echo'): Promise<boolean> {
  return checkedCall(s, tool, { text }, (got) => got === text, c, timeoutMs);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function median(xs: number[]): number {
  return percentile([...xs].sort((a, b) => a - b), 50);
}

/** Opens `n` sessions, at most `parallel` at a time, within deadlineMs; failures are counted. */
export async function openMany(open: OpenSession, n: number, parallel: number, deadlineMs: number, c: Counts): Promise<McpSession[]> {
  const sessions: McpSession[] = [];
  const deadline = performance.now() + deadlineMs;
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, async () => {
    while (next < n && performance.now() < deadline) {
      next++;
      try {
        sessions.push(await open());
      } catch (err) {
        recordError(c, 'open session', err);
      }
    }
  }));
  if (sessions.length < n) note(c, `opened ${sessions.length}/${n} sessions within ${deadlineMs} ms`);
  return sessions;
}

export async function closeAll(sessions: McpSession[], c?: Counts): Promise<void> {
  for (let i = 0; i < sessions.length; i += 64) {
    await Promise.all(sessions.slice(i, i + 64).map(async (s) => {
      if (c !== undefined) c.strays += s.strays;
      await s.close().catch(() => {});
    }));
  }
}

/** One checked request of a sequential phase: true if its reply was right (a wrong one is counted in `c`). */
export type Step = (s: McpSession, i: number, c: Counts) => Promise<boolean>;

/** A unique-text `echo` through `tool` (the aggregate names it `<server>__echo`). */
export const echoStep = (tool: string): Step => (s, i, c) => echo(s, `lat-${i}-${Math.random().toString(36).slice(2, 8)}`, c, CALL_TIMEOUT_MS, tool);

export interface LatencyOptions {
  /** What one call is (default: `echo` with a unique text). */
  step?: Step;
  /** Read this process's CPU time around the timed calls (not the warm-up, not the session's opening). */
  cpuPid?: number;
  /** Wait this long before each call, untimed: a paced client, e.g. one that keeps under a rate limit. */
  gapMs?: number;
}

export interface LatencyResult {
  p50Ms: number;
  p99Ms: number;
  /** The process's user+system CPU per timed call, in µs; NaN without cpuPid. */
  cpuUsPerCall: number;
  counts: Counts;
}

/** One client, sequential calls: warm-up, then `calls` timed ones (stops at deadlineMs). */
export async function latency(open: OpenSession, warmup: number, calls: number, deadlineMs: number, opts: LatencyOptions = {}): Promise<LatencyResult> {
  const step = opts.step ?? echoStep('echo');
  const c = newCounts();
  const times: number[] = [];
  let cpu0: number | undefined;
  let cpu1: number | undefined;
  let served = 0;
  const s = await open();
  try {
    const deadline = performance.now() + deadlineMs;
    for (let i = 0; i < warmup + calls && performance.now() < deadline; i++) {
      if (opts.gapMs !== undefined) await sleep(opts.gapMs);
      if (i === warmup && opts.cpuPid !== undefined) cpu0 = cpuMs(opts.cpuPid);
      const t0 = performance.now();
      try {
        const ok = await step(s, i, c);
        if (i >= warmup) served++;
        if (ok && i >= warmup) times.push(performance.now() - t0);
      } catch (err) {
        recordError(c, 'latency call', err);
        break;
      }
    }
    if (opts.cpuPid !== undefined) cpu1 = cpuMs(opts.cpuPid);
    if (times.length < calls) note(c, `only ${times.length}/${calls} timed calls within ${deadlineMs} ms`);
  } finally {
    await closeAll([s], c);
  }
  times.sort((a, b) => a - b);
  const cpuUsPerCall = cpu0 === undefined || cpu1 === undefined || served === 0 ? NaN : ((cpu1 - cpu0) * 1000) / served;
  return { p50Ms: percentile(times, 50), p99Ms: percentile(times, 99), cpuUsPerCall, counts: c };
}


export interface ThroughputResult { perSecond: number; clients: number; counts: Counts }

/** One checked call carrying a unique `text`: true if its reply was right (a wrong one is counted in `c`). */
export type TextCall = (s: McpSession, text: string, c: Counts) => Promise<boolean>;

/**
 * `clients` sessions (opened first, not timed) each loop sequential calls (default: `echo`) for
 * durationMs; the rate is correct replies over the time until the last loop ended. A client whose
 * call fails stops (its session is presumed broken).
 */
export async function throughput(open: OpenSession, clients: number, durationMs: number, setupDeadlineMs: number,
  call: TextCall = echo): Promise<ThroughputResult> {
  const c = newCounts();
  const sessions = await openMany(open, clients, 16, setupDeadlineMs, c);
  try {
    if (sessions.length < clients) return { perSecond: NaN, clients, counts: c };
    const t0 = performance.now();
    const end = t0 + durationMs;
    await Promise.all(sessions.map(async (s, i) => {
      for (let n = 0; performance.now() < end; n++) {
        try {
          await call(s, `tp-${i}-${n}`, c);
        } catch (err) {
          recordError(c, `client ${i} call ${n}`, err);
          return;
        }
      }
    }));
    const elapsedS = (performance.now() - t0) / 1000;
    return { perSecond: c.ok / elapsedS, clients, counts: c };
  } finally {
    await closeAll(sessions, c);
  }
}

export interface BigResult { medianMs: number; counts: Counts }

/** Time for one `big` reply of `bytes` UTF-8 bytes, checked for its exact size; one warm-up. */
export async function bigReply(open: OpenSession, bytes: number, reps: number): Promise<BigResult> {
  const c = newCounts();
  const times: number[] = [];
  const s = await open();
  try {
    for (let i = 0; i <= reps; i++) {
      const t0 = performance.now();
      let reply;
      try {
        reply = await s.call('tools/call', { name: 'big', arguments: { bytes } }, 60_000);
      } catch (err) {
        recordError(c, 'big call', err);
        break;
      }
      const ms = performance.now() - t0;
      const got = (reply.result as { content?: Array<{ text?: unknown }> } | undefined)?.content?.[0]?.text;
      if (typeof got === 'string' && got.length === bytes && /^x*$/.test(got)) {
        c.ok++;
        if (i > 0) times.push(ms);
      } else {
        c.wrong++;
        note(c, `big ${bytes} → ${typeof got === 'string' ? `${got.length} chars` : JSON.stringify(reply).slice(0, 300)}`);
      }
    }
  } finally {
    await closeAll([s], c);
  }
  return { medianMs: times.length > 0 ? median(times) : NaN, counts: c };
}

export interface IdleResult { rssMiB: Map<number, number>; counts: Counts }

/**
 * Holds idle SSE sessions on raw sockets and reads the target's VmRSS at each step (0 first);
 * then checks the target still answers an echo. Steps above what fdBudget allows are skipped.
 */
export async function idleRss(run: Running, steps: number[], open: OpenSession, deadlineMs: number, fdBudget: number): Promise<IdleResult> {
  const c = newCounts();
  const rss = new Map<number, number>();
  const sockets: net.Socket[] = [];
  const deadline = performance.now() + deadlineMs;
  const settle = async (): Promise<number | undefined> => {
    await sleep(1_000);
    const kib = rssKiB(run.pid);
    return kib === undefined ? undefined : kib / 1024;
  };
  try {
    const base = await settle();
    if (base !== undefined) rss.set(0, base);
    for (const step of steps) {
      if (step > fdBudget) {
        note(c, `skipped ${step} sessions: open-file limit allows ~${fdBudget} (raise ulimit -n)`);
        continue;
      }
      let failed = 0;
      while (sockets.length < step && performance.now() < deadline && failed < 50) {
        const batch = Math.min(100, step - sockets.length);
        const opened = await Promise.allSettled(Array.from({ length: batch }, () => openIdleSse(HOST, run.port, 15_000, run.ssePath)));
        for (const r of opened) {
          if (r.status === 'fulfilled') sockets.push(r.value);
          else {
            failed++;
            recordError(c, `idle session #${sockets.length}`, r.reason);
          }
        }
      }
      if (sockets.length < step) {
        note(c, `held only ${sockets.length}/${step} idle sessions`);
        break;
      }
      if (run.hasExited()) throw new BenchError('BENCH_TARGET_EXIT', `${run.label} exited holding ${sockets.length} sessions`);
      const mib = await settle();
      if (mib !== undefined) rss.set(step, mib);
    }
    // Still serving with all those sessions held?
    try {
      const s = await open();
      try {
        await echo(s, `after-idle-${sockets.length}`, c);
      } finally {
        await closeAll([s], c);
      }
    } catch (err) {
      recordError(c, `echo with ${sockets.length} idle sessions held`, err);
    }
  } finally {
    for (const s of sockets) s.destroy();
  }
  return { rssMiB: rss, counts: c };
}

export interface FirstReplyResult { medianMs: number; counts: Counts }

/** Median over reps of: open a session (handshake included) and get the first echo reply. */
export async function openToFirstReply(open: OpenSession, reps: number): Promise<FirstReplyResult> {
  const c = newCounts();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    let s: McpSession | undefined;
    try {
      s = await open();
      if (await echo(s, `first-${i}`, c)) times.push(performance.now() - t0);
    } catch (err) {
      recordError(c, `open→first reply #${i}`, err);
    } finally {
      if (s !== undefined) await closeAll([s], c);
    }
  }
  return { medianMs: times.length > 0 ? median(times) : NaN, counts: c };
}

/**
 * Polls a just-spawned target until a full session answers an echo; ms since spawn. Refused
 * connections are retried every 5 ms until deadlineMs.
 */
export async function pollFirstServed(run: Running, open: OpenSession, deadlineMs: number, c: Counts): Promise<number> {
  const deadline = run.startedAt + deadlineMs;
  let lastErr: unknown;
  while (performance.now() < deadline) {
    if (run.hasExited()) throw new BenchError('BENCH_TARGET_EXIT', `${run.label} exited before serving\n${run.tail()}`);
    let s: McpSession | undefined;
    try {
      s = await open();
      const ok = await echo(s, 'first-served', c);
      const ms = performance.now() - run.startedAt;
      if (ok) return ms;
      throw new BenchError('BENCH_WRONG', 'first served reply was wrong');
    } catch (err) {
      if ((err as BenchError).code === 'BENCH_WRONG') throw err;
      lastErr = err;
      await sleep(5);
    } finally {
      if (s !== undefined) await closeAll([s]);
    }
  }
  throw new BenchError('BENCH_TIMEOUT', `${run.label}: nothing served within ${deadlineMs} ms (last: ${String(lastErr)})`);
}
