/**
 * Per server, once: its sandbox plan on this host (logged: which mechanism enforces each control, which
 * control is not enforced and why), its private home, the host paths its command needs to see, and the
 * clean environment its children get. Under `strict` a gap makes the server failed, never run unlimited.
 */
import { accessSync, constants, existsSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import type { ServerSpec } from '../config/server-spec.ts';
import type { Logger } from '../observe/log.ts';
import { prepareHome, type SandboxRun } from '../upstream/sandbox/launch.ts';
import { buildPlan, describePlan, type HostFacts } from '../upstream/sandbox/plan.ts';

export interface ServerSandbox {
  run: SandboxRun | undefined;
  /** Why the server cannot run as configured (strict could not enforce a control, or no home). */
  fatal: string | undefined;
  /** For /status: the mode and what enforces what. */
  summary: { mode: string; enforced: string; unenforced: string } | undefined;
}

/** Already inside every sandbox's view (bwrap-args.ts SYSTEM_DIRS). */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
/** Variables a clean environment keeps from the proxy's: how to find programs, and text settings. */
const BASE_ENV = ['PATH', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ'];
/**
 * With the network off, npm and uv are told so: a warm cache is used without trying the network
 * (npm would otherwise retry for a minute before failing), and a cold one fails at once with
 * ENOTCACHED, which child.ts turns into "run mcpproxy prefetch". The server's own env may override.
 */
const OFFLINE_ENV = { npm_config_offline: 'true', npm_config_update_notifier: 'false', UV_OFFLINE: '1' };

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
  let home: string;
  try {
    home = prepareHome(spec.sandbox.stateDir ?? defaultStateDir(), spec.name, plan.runAs);
  } catch (err) {
    const fatal = `sandbox: cannot make the server's home: ${(err as Error).message}; set --state-dir`;
    log.error('sandbox', { error: fatal });
    return { run: undefined, fatal, summary };
  }
  return { run: { plan, home, ...sandboxView(spec, hidden) }, fatal: undefined, summary };
}

/** systemd's StateDirectory when given (config.ts reads it); else a fixed place the sandbox user can traverse. */
export function defaultStateDir(): string {
  if (process.getuid?.() === 0) return '/var/lib/mcpproxy';
  return join(process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'mcpproxy');
}

/**
 * Under bubblewrap the child starts from an empty environment plus PATH and locale, the server's
 * configured env and the session's allowed env: nothing else of the proxy's (keys, tokens, npm_config_*
 * paths that point into the host) leaks in. Without bubblewrap the old inheritance stays.
 */
export function childEnv(run: SandboxRun | undefined, spec: ServerSpec, sessionEnv: Record<string, string>): NodeJS.ProcessEnv {
  if (run?.plan.bwrap === undefined) return { ...process.env, ...spec.env, ...sessionEnv };
  const base: Record<string, string> = run.plan.bwrap.isNetworkOff ? { ...OFFLINE_ENV } : {};
  for (const name of BASE_ENV) if (process.env[name] !== undefined) base[name] = process.env[name]!;
  return { ...base, ...spec.env, ...sessionEnv };
}

/** What of the host a server's children see besides the system dirs, and where they start. */
export interface SandboxView {
  readOnly: string[];
  writable: string[];
  masked: Array<{ path: string; isDir: boolean }>;
  workDir: string | undefined;
}

/**
 * The host paths a server's command needs: the command's install prefix when outside the system dirs
 * (a node from nvm), and each path in its arguments that exists (absolute, or relative to its working
 * directory) as its package root (nearest package.json, so node_modules come along), else itself.
 * `hidden` paths inside those are masked. The child starts in its working directory when that is
 * visible, so relative arguments mean what they mean without the sandbox; else in its home. The
 * working directory itself is not shown whole: run from a home directory, that would show ~/.ssh.
 */
export function sandboxView(spec: ServerSpec, hidden: readonly string[], proxyCwd = process.cwd()): SandboxView {
  const cwd = spec.cwd === undefined ? proxyCwd : resolve(proxyCwd, spec.cwd);
  const paths = new Set<string>();
  const command = resolveCommand(spec.command, spec.env.PATH ?? process.env.PATH ?? '', cwd);
  if (command !== undefined && !isSystem(command)) paths.add(dirname(dirname(command)));
  for (const arg of spec.args) {
    if (arg.startsWith('-') || arg === '') continue;
    const path = resolve(cwd, arg);
    if (!existsSync(path)) continue;
    const real = realpathSync(path);
    if (!isSystem(real)) paths.add(packageRoot(real) ?? real);
  }
  for (const path of spec.sandbox.readOnlyPaths) paths.add(path);
  const readOnly = [...paths];
  const writable = spec.sandbox.writablePaths;
  const isUnder = (path: string, dir: string): boolean => path === dir || path.startsWith(`${dir}/`);
  const masked = hidden
    .filter((h) => existsSync(h) && [...readOnly, ...writable].some((dir) => isUnder(h, dir)))
    .map((path) => ({ path, isDir: statSync(path).isDirectory() }));
  const isVisible = cwd === '/' || isSystem(cwd) || [...readOnly, ...writable].some((dir) => isUnder(cwd, dir) || isUnder(dir, cwd));
  return { readOnly, writable, masked, workDir: isVisible ? cwd : undefined };
}

function isSystem(path: string): boolean {
  return SYSTEM_DIRS.some((dir) => path === dir || path.startsWith(`${dir}/`));
}

function resolveCommand(command: string, path: string, cwd: string): string | undefined {
  const candidates = command.includes('/') ? [resolve(cwd, command)] : path.split(delimiter).filter((d) => d !== '').map((d) => join(d, command));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return realpathSync(candidate);
    } catch {
      // not here
    }
  }
  return undefined;
}

function packageRoot(path: string): string | undefined {
  let dir = statSync(path).isDirectory() ? path : dirname(path);
  while (dir !== '/') {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return undefined;
}
