/**
 * Requested controls × what the host allows → which mechanism enforces each control, and which are not
 * enforced and why. Pure: the probe's findings come in as values. `strict` turns any gap into an error.
 */
import type { Found, HostProbe } from './probe.ts';
import type { SandboxSpec } from './options.ts';

export type Control = 'memory' | 'cpus' | 'pids' | 'nofile' | 'cpuSeconds' | 'lifetime' | 'filesystem' | 'network' | 'user';
export type Mechanism = 'cgroup' | 'rlimit' | 'bwrap' | 'setpriv' | 'timer';

/** The host as the plan sees it: the probe, with the cgroup's controllers those enabled for children. */
export type HostFacts = Omit<HostProbe, 'cgroup'> & {
  cgroup: Found<{ dir: string; controllers: string[]; controllerError?: string | undefined }>;
};

export interface SandboxPlan {
  spec: SandboxSpec;
  enforced: Array<{ control: Control; mechanism: Mechanism }>;
  unenforced: Array<{ control: Control; reason: string }>;
  /** Where each child's cgroup is made and what is written into it; undefined: no cgroup. */
  cgroup: { parent: string; memoryBytes?: number; cpus?: number; pids?: number } | undefined;
  rlimits: { nofile?: number; cpuSeconds?: number };
  bwrap: { path: string; isNetworkOff: boolean } | undefined;
  runAs: { uid: number; gid: number; setpriv: string } | undefined;
  lifetimeMs: number | undefined;
}

/** Thrown under `strict` when a requested control cannot be enforced here; `code` is stable for callers. */
export class SandboxUnenforcedError extends Error {
  readonly code = 'SANDBOX_UNENFORCED';
  readonly controls: Control[];
  constructor(unenforced: SandboxPlan['unenforced']) {
    super(`sandbox strict: cannot enforce ${unenforced.map((u) => `${u.control} (${u.reason})`).join('; ')}`);
    this.controls = unenforced.map((u) => u.control);
  }
}

/** The plan for `spec` on `host`; undefined when the sandbox is off. Throws SandboxUnenforcedError under strict. */
export function buildPlan(spec: SandboxSpec, host: HostFacts): SandboxPlan | undefined {
  if (spec.mode === 'off') return undefined;
  const plan: SandboxPlan = {
    spec, enforced: [], unenforced: [], cgroup: undefined, rlimits: {}, bwrap: undefined, runAs: undefined, lifetimeMs: undefined,
  };
  const enforce = (control: Control, mechanism: Mechanism): void => void plan.enforced.push({ control, mechanism });
  const skip = (control: Control, reason: string): void => void plan.unenforced.push({ control, reason });
  const { limits } = spec;

  // A cgroup is worth having without any controller: cgroup.kill still reaches a child that escaped
  // its process group.
  if (host.cgroup.ok) plan.cgroup = { parent: host.cgroup.dir };
  const byController = (control: Control, controller: string, set: (c: NonNullable<SandboxPlan['cgroup']>) => void, extra = ''): void => {
    if (!host.cgroup.ok) return skip(control, `${host.cgroup.reason}${extra}`);
    if (!host.cgroup.controllers.includes(controller)) {
      const why = host.cgroup.controllerError === undefined ? '' : ` (${host.cgroup.controllerError})`;
      return skip(control, `cgroup ${controller} controller not enabled in ${host.cgroup.dir}${why}${extra}`);
    }
    set(plan.cgroup!);
    enforce(control, 'cgroup');
  };
  // RLIMIT_AS is never the fallback: it counts reserved address space, which Node and WebAssembly
  // reserve by gigabytes, so it kills healthy servers.
  byController('memory', 'memory', (c) => { c.memoryBytes = limits.memoryBytes; }, '; RLIMIT_AS is not used');
  byController('cpus', 'cpu', (c) => { c.cpus = limits.cpus; });
  byController('pids', 'pids', (c) => { c.pids = limits.pids; });

  if (limits.nofile !== undefined) {
    plan.rlimits.nofile = limits.nofile;
    enforce('nofile', 'rlimit');
  }
  if (limits.cpuSeconds !== undefined) {
    plan.rlimits.cpuSeconds = limits.cpuSeconds;
    enforce('cpuSeconds', 'rlimit');
  }
  if (limits.lifetimeMs !== undefined) {
    plan.lifetimeMs = limits.lifetimeMs;
    enforce('lifetime', 'timer');
  }

  const isNetworkOff = spec.network === 'off';
  if (host.bwrap.ok) {
    plan.bwrap = { path: host.bwrap.path, isNetworkOff };
    enforce('filesystem', 'bwrap');
    if (isNetworkOff) enforce('network', 'bwrap');
  } else {
    skip('filesystem', host.bwrap.reason);
    if (isNetworkOff) skip('network', host.bwrap.reason);
  }

  // Only root can become another user, and only root needs to: a child running as root inside
  // any sandbox can undo most of it.
  if (host.isRoot) {
    if (host.user === undefined) skip('user', 'running as root and no --sandbox-user given');
    else if (!host.user.ok) skip('user', host.user.reason);
    else if (!host.setpriv.ok) skip('user', host.setpriv.reason);
    else {
      plan.runAs = { uid: host.user.uid, gid: host.user.gid, setpriv: host.setpriv.path };
      enforce('user', 'setpriv');
    }
  }

  if (spec.mode === 'strict' && plan.unenforced.length > 0) throw new SandboxUnenforcedError(plan.unenforced);
  return plan;
}

/** Log fields: `enforced` as `memory=cgroup nofile=rlimit`, `unenforced` as `control: reason; …`. */
export function describePlan(plan: SandboxPlan): { enforced: string; unenforced: string } {
  return {
    enforced: plan.enforced.map((e) => `${e.control}=${e.mechanism}`).join(' '),
    unenforced: plan.unenforced.map((u) => `${u.control}: ${u.reason}`).join('; '),
  };
}
