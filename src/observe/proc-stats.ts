/**
 * What processes cost, read from Linux's /proc: a child's CPU share, resident memory and age; the
 * proxy's own memory, open files and event-loop delay. Readings are taken when asked (once a second
 * while the console is watched), never on the call path. Elsewhere than Linux the /proc fields are absent.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** Kernel clock ticks per second (USER_HZ): 100 on every Linux architecture Node supports. */
const TICKS_PER_S = 100;
const NS_PER_MS = 1e6;
/** The delay monitor's timer period; it records whole periods, so an idle loop reads this much. */
const LOOP_RESOLUTION_MS = 20;

export interface ProcessCost {
  pid: number;
  /** Share of one core since the previous reading; undefined on the first one. */
  cpuPercent: number | undefined;
  rssBytes: number;
  ageS: number;
}

export interface SelfCost {
  pid: number;
  rssBytes: number;
  heapUsedBytes: number;
  openFiles: number | undefined;
  /** Event-loop delay since the previous reading (ms): how late timers and I/O callbacks ran. */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
}

/** Remembers each pid's CPU time between readings, so a share of the interval can be given. */
export class ProcSampler {
  #last = new Map<number, { ticks: number; atMs: number }>();
  #loop: IntervalHistogram;

  constructor() {
    this.#loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    this.#loop.enable();
  }

  /** The cost of each pid that still runs (others are left out); forgets pids no longer asked about. */
  children(pids: number[], nowMs: number): ProcessCost[] {
    const uptimeS = readUptimeS();
    const out: ProcessCost[] = [];
    const seen = new Map<number, { ticks: number; atMs: number }>();
    for (const pid of pids) {
      const stat = readStat(pid);
      if (stat === undefined) continue;
      const last = this.#last.get(pid);
      const elapsedS = last === undefined ? 0 : (nowMs - last.atMs) / 1000;
      seen.set(pid, { ticks: stat.ticks, atMs: nowMs });
      out.push({
        pid,
        cpuPercent: elapsedS > 0 ? Math.round(((stat.ticks - last!.ticks) / TICKS_PER_S / elapsedS) * 1000) / 10 : undefined,
        rssBytes: readRssBytes(pid) ?? 0,
        ageS: uptimeS === undefined ? 0 : Math.max(0, Math.round(uptimeS - stat.startTicks / TICKS_PER_S)),
      });
    }
    this.#last = seen;
    return out;
  }

  self(): SelfCost {
    const memory = process.memoryUsage();
    const loop = this.#loop;
    const late = (ns: number): number => Math.max(0, ns / NS_PER_MS - LOOP_RESOLUTION_MS);
    const delay = { p50: late(loop.percentile(50)), p99: late(loop.percentile(99)), max: late(loop.max) };
    loop.reset();
    return { pid: process.pid, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, openFiles: countOpenFiles(), eventLoopDelayMs: round(delay) };
  }

  stop(): void {
    this.#loop.disable();
  }
}

function round(delay: { p50: number; p99: number; max: number }): { p50: number; p99: number; max: number } {
  const r = (ms: number): number => (Number.isFinite(ms) ? Math.round(ms * 10) / 10 : 0);
  return { p50: r(delay.p50), p99: r(delay.p99), max: r(delay.max) };
}

/** utime + stime and the start time, in ticks, from /proc/<pid>/stat (fields 14, 15, 22). */
function readStat(pid: number): { ticks: number; startTicks: number } | undefined {
  const text = readText(`/proc/${pid}/stat`);
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
  const fields = text?.slice(text.lastIndexOf(')') + 2).split(' ');
  if (fields === undefined || fields.length < 20) return undefined;
  return { ticks: Number(fields[11]) + Number(fields[12]), startTicks: Number(fields[19]) };
}

/** VmRSS from /proc/<pid>/status: in kB whatever the page size. */
function readRssBytes(pid: number): number | undefined {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readText(`/proc/${pid}/status`) ?? '');
  return match === null ? undefined : Number(match[1]) * 1024;
}

function readUptimeS(): number | undefined {
  const text = readText('/proc/uptime');
  return text === undefined ? undefined : Number(text.split(' ')[0]);
}

function countOpenFiles(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

/** A /proc file's text, or undefined when the process is gone (or there is no /proc). */
function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
