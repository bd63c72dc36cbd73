/**
 * One cgroup v2 directory per child under a parent the proxy may write (its delegated subtree):
 * limits written before the child joins, `cgroup.kill` to end everything in it, `memory.events` to tell
 * an OOM kill from a crash. The parent is injectable so tests run against a plain temp dir.
 */
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Controllers the sandbox uses; anything else the host offers is left alone. */
export const SANDBOX_CONTROLLERS = ['memory', 'cpu', 'pids'] as const;

/** cpu.max period; quota = cpus × period. 100 ms is the kernel's default period. */
const CPU_PERIOD_US = 100_000;
const REMOVE_TRIES = 20;
const REMOVE_RETRY_MS = 50;

export interface CgroupLimits {
  memoryBytes?: number | undefined;
  cpus?: number | undefined;
  pids?: number | undefined;
}

/**
 * Makes `dir`'s controllers available to cgroups made under it and returns those now enabled.
 * cgroup v2 forbids processes in a cgroup that hands controllers down ("no internal processes"), so
 * unless `dir` is the hierarchy's root the proxy first moves itself into a leaf, `dir/proxy`.
 */
export function enableControllers(dir: string, available: readonly string[], isHierarchyRoot: boolean): string[] {
  const wanted = SANDBOX_CONTROLLERS.filter((c) => available.includes(c));
  if (wanted.length > 0 && !isHierarchyRoot) {
    mkdirSync(join(dir, 'proxy'), { recursive: true });
    writeFileSync(join(dir, 'proxy', 'cgroup.procs'), `${process.pid}\n`);
  }
  // One controller per write: a host that refuses one (e.g. cpu with a realtime task) keeps the rest.
  for (const controller of wanted) {
    try {
      writeFileSync(join(dir, 'cgroup.subtree_control'), `+${controller}\n`);
    } catch {
      // reported below by its absence from subtree_control
    }
  }
  return readFileSync(join(dir, 'cgroup.subtree_control'), 'utf8').trim().split(/\s+/).filter((c) => c !== '');
}

const CHILD_CGROUP = /^mcpproxy-(\d+)-\d+$/;

/**
 * Kills and removes child cgroups a previous proxy left under `parent` (it crashed, or exited through
 * the last-resort path, which kills but does not wait to remove). Call once at start.
 */
export async function removeStaleCgroups(parent: string): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  const stale = names.filter((name) => {
    const pid = Number(CHILD_CGROUP.exec(name)?.[1]);
    return Number.isInteger(pid) && pid !== process.pid && !isAlive(pid);
  });
  await Promise.all(stale.map((name) => {
    const cgroup = new ChildCgroup(join(parent, name));
    cgroup.kill();
    return cgroup.remove();
  }));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let seq = 0;

export class ChildCgroup {
  readonly dir: string;

  /** Use create(); the constructor only names an existing directory. */
  constructor(dir: string) {
    this.dir = dir;
  }

  /** Makes a fresh cgroup under `parent` with `limits` written; throws naming the file that refused. */
  static create(parent: string, limits: CgroupLimits): ChildCgroup {
    const dir = join(parent, `mcpproxy-${process.pid}-${++seq}`);
    mkdirSync(dir);
    const cgroup = new ChildCgroup(dir);
    try {
      if (limits.memoryBytes !== undefined) {
        cgroup.#write('memory.max', String(limits.memoryBytes));
        // No swap: a child over its limit is killed, not slowly paged out with the rest of the host.
        cgroup.#write('memory.swap.max', '0', true);
        // Kill the whole cgroup on OOM: npx's node without the server it started is a zombie service.
        cgroup.#write('memory.oom.group', '1');
      }
      if (limits.cpus !== undefined) cgroup.#write('cpu.max', `${Math.round(limits.cpus * CPU_PERIOD_US)} ${CPU_PERIOD_US}`);
      if (limits.pids !== undefined) cgroup.#write('pids.max', String(limits.pids));
    } catch (err) {
      cgroup.#rmdir();
      throw err;
    }
    return cgroup;
  }

  /** The file a process writes its pid into to join. */
  get procsFile(): string {
    return join(this.dir, 'cgroup.procs');
  }

  /** OOM kills in this cgroup so far (memory.events `oom_kill`); 0 when the file is absent. */
  oomKills(): number {
    try {
      return parseMemoryEvents(readFileSync(join(this.dir, 'memory.events'), 'utf8')).oom_kill ?? 0;
    } catch {
      return 0;
    }
  }

  /**
   * SIGKILLs every process in the cgroup, however it left its process group (setsid, double fork).
   * Synchronous, so the last-resort exit path can use it. Kernels before 5.14 lack cgroup.kill; there
   * each listed pid is killed instead.
   */
  kill(): void {
    try {
      writeFileSync(join(this.dir, 'cgroup.kill'), '1');
      return;
    } catch {
      // no cgroup.kill: fall through to the pid list
    }
    for (const pid of this.#pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** Removes the directory once its processes are gone (rmdir fails with EBUSY until then). */
  async remove(): Promise<void> {
    for (let i = 0; i < REMOVE_TRIES; i++) {
      if (this.#rmdir()) return;
      await sleep(REMOVE_RETRY_MS);
    }
  }

  #pids(): number[] {
    try {
      return readFileSync(this.procsFile, 'utf8').split('\n').filter((l) => l !== '').map(Number);
    } catch {
      return [];
    }
  }

  #rmdir(): boolean {
    try {
      rmdirSync(this.dir);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT';
    }
  }

  #write(file: string, value: string, isOptional = false): void {
    try {
      writeFileSync(join(this.dir, file), value);
    } catch (err) {
      // memory.swap.max only exists with swap accounting; without it there is no cgroup swap to cap.
      if (isOptional && (err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new Error(`cannot write ${file} in ${this.dir}: ${(err as Error).message}`);
    }
  }
}

/** memory.events text ("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n") as counters. */
export function parseMemoryEvents(text: string): Record<string, number> {
  const events: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key !== undefined && key !== '' && value !== undefined && /^\d+$/.test(value)) events[key] = Number(value);
  }
  return events;
}
