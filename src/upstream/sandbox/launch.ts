/**
 * Turns a plan into one child's launch (its cgroup made, its command wrapped) and, after it exits, says
 * whether it was stopped by a limit. This is the sandbox's only face towards child.ts.
 */
import { chownSync, existsSync, lstatSync, mkdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { bwrapArgs, isHostPathVisible, type BwrapView } from './bwrap-args.ts';
import { ChildCgroup } from './cgroup.ts';
import { hiddenPathIn } from './hidden-path.ts';
import { dropArgs } from './probe.ts';
import type { SandboxPlan } from './plan.ts';
import { wrapCommand } from './wrapper.ts';

/** One server's sandbox: its plan and the view bwrap builds (the network comes from the plan). */
export interface SandboxRun extends Omit<BwrapView, 'isNetworkOff' | 'symlinks'> {
  plan: SandboxPlan;
  /**
   * The command's absolute path as bwrap execs it: the path as found when that is inside the view (a
   * venv's `bin/python` must keep its name to find its venv), else its real file (a symlinked bin).
   */
  execPath?: string | undefined;
}

export interface Breach {
  limit: 'memory' | 'cpuSeconds' | 'lifetime';
  /** For the client and the log: "memory limit 2 GiB exceeded". */
  message: string;
}

export interface Launch {
  command: string;
  args: string[];
  cgroup: ChildCgroup | undefined;
  /** Set when part of the plan could not be applied to this child (logged by the caller). */
  warning: string | undefined;
}

/** Makes the child's cgroup and wraps `command args`; never throws, so spawn reports every failure. */
export function launchSandboxed(run: SandboxRun, command: string, args: readonly string[]): Launch {
  const { plan } = run;
  let cgroup: ChildCgroup | undefined;
  let procsFile: string | undefined;
  let warning: string | undefined;
  if (plan.cgroup !== undefined) {
    const { parent, ...limits } = plan.cgroup;
    try {
      cgroup = ChildCgroup.create(parent, limits);
      procsFile = cgroup.procsFile;
    } catch (err) {
      warning = `child cgroup not made: ${(err as Error).message}`;
      // Under strict the wrapper is still told to join, fails to, and the child never runs unlimited.
      if (plan.spec.mode === 'strict') procsFile = join(parent, 'mcpproxy-missing', 'cgroup.procs');
    }
  }
  const prefixes: string[][] = [];
  if (plan.runAs !== undefined) prefixes.push([plan.runAs.setpriv, ...dropArgs(plan.runAs)]);
  if (plan.bwrap !== undefined) {
    const view = {
      home: run.home, isNetworkOff: plan.bwrap.isNetworkOff, readOnly: run.readOnly ?? [], writable: run.writable, masked: run.masked,
      files: run.files, workDir: run.workDir, symlinks: rootSymlinks(),
    };
    prefixes.push([plan.bwrap.path, ...bwrapArgs(view)]);
  }
  const wrapped = wrapCommand({ procsFile, ...plan.rlimits, prefixes }, plan.bwrap === undefined ? command : run.execPath ?? command, args);
  return { ...wrapped, cgroup, warning };
}

/** The host path a sandboxed child's stderr `line` says is missing that its bwrap view hid; undefined if none. */
export function hiddenByView(run: SandboxRun, line: string): string | undefined {
  if (run.plan.bwrap === undefined) return undefined;
  return hiddenPathIn(line, (path) => isHostPathVisible(run, path), existsSync);
}

/** The limit that ended a child, from its cgroup's memory.events or its exit signal; undefined if none did. */
export function detectBreach(plan: SandboxPlan, cgroup: ChildCgroup | undefined, signal: NodeJS.Signals | null): Breach | undefined {
  // Behind npx the OOM-killed process is a grandchild, so the exit status cannot say; the cgroup can.
  if (cgroup !== undefined && cgroup.oomKills() > 0) {
    return { limit: 'memory', message: `memory limit ${formatBytes(plan.spec.limits.memoryBytes)} exceeded` };
  }
  if (signal === 'SIGXCPU' && plan.rlimits.cpuSeconds !== undefined) {
    return { limit: 'cpuSeconds', message: `CPU time limit ${plan.rlimits.cpuSeconds} s exceeded` };
  }
  return undefined;
}

/** The breach a child stopped for reaching its wall-clock lifetime. */
export function lifetimeBreach(lifetimeMs: number): Breach {
  return { limit: 'lifetime', message: `lifetime limit ${lifetimeMs / 1000} s reached` };
}

/**
 * Makes `<stateDir>/homes/<server>` (mode 0700, owned by the sandbox user when there is one) and
 * returns it. npx and uvx keep their caches there, so they stay warm across sessions.
 */
export function prepareHome(stateDir: string, server: string, runAs: SandboxPlan['runAs']): string {
  // The name becomes a path: nothing that could climb out of homes/.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(server)) throw new Error(`server name "${server}" cannot name a home directory`);
  // homes/ can be passed through but not listed: a sandbox user reaches its own home without
  // learning which other servers exist. The state dir above it must be searchable too.
  const homes = join(stateDir, 'homes');
  mkdirSync(homes, { recursive: true, mode: 0o711 });
  const home = join(homes, server);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  if (runAs !== undefined) chownSync(home, runAs.uid, runAs.gid);
  return home;
}

/** "2 GiB", "512 MiB", "1536 KiB": the largest binary unit that divides evenly. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
}

let symlinks: Map<string, string> | undefined;

/** Top-level symlinks of the host's root (merged /usr), read once: the layout does not change at run time. */
function rootSymlinks(): Map<string, string> {
  if (symlinks !== undefined) return symlinks;
  symlinks = new Map();
  for (const path of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    try {
      if (lstatSync(path).isSymbolicLink()) symlinks.set(path, readlinkSync(path));
    } catch {
      // absent on this host: bwrap's --ro-bind-try skips it too
    }
  }
  return symlinks;
}
