/**
 * Per server, once: its sandbox plan on this host (logged: which mechanism enforces each control, which
 * control is not enforced and why), its private home, the host paths its command needs to see
 * (sandbox-view.ts) and the package managers' configuration carried in (package-config.ts). Under
 * `strict` a gap makes the server failed, never run unlimited. Its environment: child-env.ts.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ServerSpec } from '../config/server-spec.ts';
import type { Logger } from '../observe/log.ts';
import { prepareHome, type SandboxRun } from '../upstream/sandbox/launch.ts';
import { buildPlan, describePlan, type HostFacts } from '../upstream/sandbox/plan.ts';
import { packageConfigFiles, referencedPaths, writeCarried } from './package-config.ts';
import { sandboxView } from './sandbox-view.ts';

export interface ServerSandbox {
  run: SandboxRun | undefined;
  /** Why the server cannot run as configured (strict could not enforce a control, or no home). */
  fatal: string | undefined;
  /** For /status: the mode and what enforces what. */
  summary: { mode: string; enforced: string; unenforced: string } | undefined;
}

/**
 * The sandbox of `spec` on `host` (undefined host: no server asked for one). `hidden` are paths no
 * child may see even when they sit inside a directory its command needs (servers file, env file, state dir).
 */
export function sandboxForServer(spec: ServerSpec, host: HostFacts | undefined, hidden: readonly string[], log: Logger): ServerSandbox {
  if (host === undefined || spec.sandbox.mode === 'off') return { run: undefined, fatal: undefined, summary: undefined };
  let plan;
  try {
    plan = buildPlan(spec.sandbox, host);
  } catch (err) {
    log.error('sandbox', { mode: 'strict', error: (err as Error).message });
    return { run: undefined, fatal: (err as Error).message, summary: undefined };
  }
  if (plan === undefined) return { run: undefined, fatal: undefined, summary: undefined };
  const described = describePlan(plan);
  const summary = { mode: spec.sandbox.mode, ...described };
  log[plan.unenforced.length > 0 ? 'warn' : 'info']('sandbox', { mode: summary.mode, enforced: described.enforced, unenforced: described.unenforced || undefined });
  const stateDir = spec.sandbox.stateDir ?? defaultStateDir();
  let home: string;
  try {
    home = prepareHome(stateDir, spec.name, plan.runAs);
  } catch (err) {
    const fatal = `sandbox: cannot make the server's home: ${(err as Error).message}; set --state-dir`;
    log.error('sandbox', { error: fatal });
    return { run: undefined, fatal, summary };
  }
  const commandView = sandboxView(spec, hidden);
  if (plan.bwrap === undefined) return { run: { plan, home, ...commandView }, fatal: undefined, summary };
  // Without bubblewrap the child sees the host's files where they are; with it, copies are carried in.
  const venvs = commandView.readOnly.filter((dir) => existsSync(join(dir, 'pyvenv.cfg')));
  const carried = packageConfigFiles(process.env, venvs);
  let written: ReturnType<typeof writeCarried>;
  try {
    written = writeCarried(stateDir, spec.name, carried, spec.sandbox.packageCredentials, plan.runAs);
  } catch (err) {
    const fatal = `sandbox: cannot copy package managers' configuration: ${(err as Error).message}; set --state-dir`;
    log.error('sandbox', { error: fatal });
    return { run: undefined, fatal, summary };
  }
  const referenced = referencedPaths(written.texts, process.env);
  if (written.binds.length > 0 || referenced.length > 0) {
    log.info('sandbox carried', {
      files: carried.map((f) => f.from).join(',') || undefined, shown: referenced.join(',') || undefined,
      credentials: spec.sandbox.packageCredentials ? 'kept' : 'removed',
    });
  }
  // What the configuration names is shown like a readOnly entry: hidden paths inside it stay masked.
  const view = referenced.length === 0 ? commandView : sandboxView({ ...spec, sandbox: { ...spec.sandbox, readOnlyPaths: [...spec.sandbox.readOnlyPaths, ...referenced] } }, hidden);
  return { run: { plan, home, ...view, files: written.binds }, fatal: undefined, summary };
}

/** systemd's StateDirectory when given (config.ts reads it); else a fixed place the sandbox user can traverse. */
export function defaultStateDir(): string {
  if (process.getuid?.() === 0) return '/var/lib/mcpproxy';
  return join(process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'mcpproxy');
}
