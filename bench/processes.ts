// The bench's processes: every one registered so any exit path can kill it, and what /proc says of them.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';

/** Every target listens here, and only here. */
export const HOST = '127.0.0.1';

const live = new Set<ChildProcess>();
const strayPids = new Set<number>();

/** Registers a process started elsewhere (the direct baseline) for killEverything(). */
export function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** Descendants a stopping target may leave: killEverything() reaches them until forgotten. */
export function rememberStrays(pids: readonly number[]): void {
  for (const pid of pids) strayPids.add(pid);
}

export function forgetStrays(pids: readonly number[]): void {
  for (const pid of pids) strayPids.delete(pid);
}

/** SIGKILLs every process group started here and every known descendant; safe to call twice. */
export function killEverything(): void {
  for (const child of live) {
    if (child.pid !== undefined) {
      for (const pid of descendants(child.pid)) strayPids.add(pid);
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone, or not a group leader */ }
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  }
  live.clear();
  for (const pid of strayPids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  strayPids.clear();
}

/** All descendants of pid, from /proc (children can leave the process group, e.g. detached). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const c of children.get(queue.shift() as number) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/** Running and not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Resident set size of pid in KiB (VmRSS), or undefined if it is gone. */
export function rssKiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

let ticksPerS: number | undefined;

/** USER_HZ, the unit of /proc/<pid>/stat times (`getconf CLK_TCK`, 100 nearly everywhere). */
export function clockTicksPerS(): number {
  if (ticksPerS === undefined) {
    try {
      ticksPerS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerS = 100;
    }
  }
  return ticksPerS;
}

/** The proxy process's own user+system CPU time in ms (all its threads, none of its children), from /proc/<pid>/stat. */
export function cpuMs(pid: number): number | undefined {
  const hz = clockTicksPerS();
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state is field 3, utime field 14, stime field 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / hz;
  } catch {
    return undefined;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
