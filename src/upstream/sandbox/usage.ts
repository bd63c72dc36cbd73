/**
 * CPU seconds and resident memory of one child and everything it started, for /metrics and /status:
 * from its cgroup's files when it has them (exact, and they see what escaped), else from a scan of
 * /proc that runs at most once per SCAN_EVERY_MS however many children and scrapes ask.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Usage {
  cpuSeconds: number;
  rssBytes: number;
}

/** A scrape every second must not walk /proc every second: older figures are fine for a gauge. */
const SCAN_EVERY_MS = 5_000;
/** USER_HZ: what /proc/<pid>/stat counts CPU time in; 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_S = 100;
/** /proc/<pid>/stat counts RSS in pages; 4 KiB pages on x86-64 and the usual arm64 kernels. */
const PAGE_BYTES = 4096;

/** Usage from a cgroup v2 directory (cpu.stat usage_usec, memory.current); undefined when either is missing. */
export function cgroupUsage(dir: string): Usage | undefined {
  try {
    const usec = /^usage_usec (\d+)$/m.exec(readFileSync(join(dir, 'cpu.stat'), 'utf8'))?.[1];
    const memory = readFileSync(join(dir, 'memory.current'), 'utf8').trim();
    if (usec === undefined || !/^\d+$/.test(memory)) return undefined;
    return { cpuSeconds: Number(usec) / 1e6, rssBytes: Number(memory) };
  } catch {
    return undefined;
  }
}

export interface ProcStat {
  pid: number;
  ppid: number;
  pgrp: number;
  cpuSeconds: number;
  rssBytes: number;
}

/** One /proc/<pid>/stat line; the command name may hold spaces and parentheses, so fields count from the last ')'. */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  const pid = Number.parseInt(text, 10);
  if (close === -1 || !Number.isInteger(pid)) return undefined;
  // After ')': state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ... rss (index 21).
  const f = text.slice(close + 2).split(' ');
  if (f.length < 22) return undefined;
  return {
    pid, ppid: Number(f[1]), pgrp: Number(f[2]),
    cpuSeconds: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS_PER_S,
    rssBytes: Number(f[21]) * PAGE_BYTES,
  };
}

/**
 * Sums `stats` over the process `root`, its process group, and all their descendants: a sandboxed
 * server runs in a new session under bwrap, so its group alone would miss it.
 */
export function treeUsage(stats: readonly ProcStat[], root: number): Usage {
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) {
    const siblings = children.get(s.ppid);
    if (siblings === undefined) children.set(s.ppid, [s]);
    else siblings.push(s);
  }
  const seen = new Set<number>();
  const queue = stats.filter((s) => s.pid === root || s.pgrp === root);
  const usage: Usage = { cpuSeconds: 0, rssBytes: 0 };
  while (queue.length > 0) {
    const s = queue.pop()!;
    if (seen.has(s.pid)) continue;
    seen.add(s.pid);
    usage.cpuSeconds += s.cpuSeconds;
    usage.rssBytes += s.rssBytes;
    queue.push(...(children.get(s.pid) ?? []));
  }
  return usage;
}

let scanned: { atMs: number; stats: ProcStat[] } | undefined;

/** Every process's stat, read afresh at most every SCAN_EVERY_MS. */
function procStats(nowMs: number): ProcStat[] {
  if (scanned !== undefined && nowMs - scanned.atMs < SCAN_EVERY_MS) return scanned.stats;
  const stats: ProcStat[] = [];
  let names: string[] = [];
  try {
    names = readdirSync('/proc');
  } catch {
    // not Linux: no figures
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = parseProcStat(readFileSync(`/proc/${name}/stat`, 'utf8'));
      if (stat !== undefined) stats.push(stat);
    } catch {
      // exited between the listing and the read
    }
  }
  scanned = { atMs: nowMs, stats };
  return stats;
}

/** The usage of the child `pid` (and what it started), from `cgroupDir` when usable, else /proc. */
export function childUsage(pid: number, cgroupDir: string | undefined, nowMs = Date.now()): Usage {
  return (cgroupDir === undefined ? undefined : cgroupUsage(cgroupDir)) ?? treeUsage(procStats(nowMs), pid);
}
