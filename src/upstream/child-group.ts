/**
 * A child's process group, and its cgroup when sandboxed: signalled as a whole, and reaped once its
 * leader is gone, so grandchildren (npx/uvx, or ones that ignore SIGTERM) never outlive it.
 */
import type { ChildCgroup } from './sandbox/cgroup.ts';

/** Process groups of children this proxy started that may still have members. */
const liveGroups = new Set<number>();
/** Cgroups of sandboxed children: they also hold whatever left its process group. */
const liveCgroups = new Set<ChildCgroup>();
/** How often a group whose leader is gone is checked for members left. */
const REAP_POLL_MS = 50;

/** Last resort on a forced exit: SIGKILL every child process group and cgroup at once (synchronous). */
export function killAllChildGroups(): void {
  for (const pgid of liveGroups) signalGroup(pgid, 'SIGKILL');
  liveGroups.clear();
  for (const cgroup of liveCgroups) cgroup.kill();
  liveCgroups.clear();
}

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is already gone
  }
}

export class ChildGroup {
  #pgid: number | undefined;
  #cgroup: ChildCgroup | undefined;
  #graceMs: number;

  /** `pgid`: the leader's pid (undefined: it was never started); `graceMs`: how long SIGTERM is given. */
  constructor(pgid: number | undefined, cgroup: ChildCgroup | undefined, graceMs: number) {
    this.#pgid = pgid;
    this.#cgroup = cgroup;
    this.#graceMs = graceMs;
    if (pgid !== undefined) liveGroups.add(pgid);
    if (cgroup !== undefined) liveCgroups.add(cgroup);
  }

  signal(signal: NodeJS.Signals): void {
    if (this.#pgid !== undefined) signalGroup(this.#pgid, signal);
  }

  /** SIGKILL to the group, and to the cgroup: that also reaches what escaped the group (setsid, double fork). */
  killHard(): void {
    this.signal('SIGKILL');
    this.#cgroup?.kill();
  }

  /** The leader is gone: SIGTERM to what is left, SIGKILL once it is empty or after the grace period. */
  async reap(): Promise<void> {
    this.signal('SIGTERM');
    const deadline = Date.now() + this.#graceMs;
    while (this.#pgid !== undefined && signalGroup(this.#pgid, 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, REAP_POLL_MS));
    }
    this.killHard();
    if (this.#pgid !== undefined) liveGroups.delete(this.#pgid);
    if (this.#cgroup !== undefined) {
      liveCgroups.delete(this.#cgroup);
      await this.#cgroup.remove();
    }
  }
}
