/**
 * One stdio MCP server process: spawned without a shell in its own process group, stdout framed into
 * JSON-RPC messages, stderr relayed to the log, stdin written with a bound, stopped as a whole group.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { LineFramer } from './framer.ts';
import { invalidReason, type JsonRpcMessage } from '../protocol/message.ts';
import { truncate, type Logger } from '../observe/log.ts';
import { startInternal } from '../trace/internal-spans.ts';
import { constants } from 'node:os';
import type { ChildCgroup } from './sandbox/cgroup.ts';
import { detectBreach, launchSandboxed, lifetimeBreach, type Breach, type SandboxRun } from './sandbox/launch.ts';
import { childUsage, type Usage } from './sandbox/usage.ts';

export interface ChildOptions {
  command: string;
  args: string[];
  /** Working directory; undefined: the proxy's. */
  cwd?: string | undefined;
  env: NodeJS.ProcessEnv;
  maxMessageBytes: number;
  /** Bytes allowed to wait in stdin before a send is refused. */
  maxStdinQueueBytes: number;
  /** How long each stop step (stdin EOF, SIGTERM) waits before the next, harsher one. */
  stopGraceMs: number;
  log: Logger;
  /** Limits and isolation for this child; undefined runs it as it is. */
  sandbox?: SandboxRun | undefined;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (ENOENT, EACCES, EAGAIN, …). */
  spawnError?: string;
  /** Set when a sandbox limit ended the child (an OOM kill in its cgroup, its CPU time, its lifetime). */
  breach?: Breach;
  /** Its network is off (sandbox) and it failed to reach one: npx/uvx with a cold cache. */
  isOfflineFetch?: boolean;
  /** Set when a remote session stands in for the process and was lost: why. */
  lost?: string;
}

export interface ChildEvents {
  message(msg: JsonRpcMessage): void;
  exit(exit: ChildExit): void;
}

export type ChildState = 'running' | 'stopping' | 'exited';

/** Process groups of children this proxy started that may still have members. */
const liveGroups = new Set<number>();
/** Cgroups of sandboxed children: they also hold whatever left its process group. */
const liveCgroups = new Set<ChildCgroup>();

/** Last resort on a forced exit: SIGKILL every child process group and cgroup at once (synchronous). */
export function killAllChildGroups(): void {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  liveGroups.clear();
  for (const cgroup of liveCgroups) cgroup.kill();
  liveCgroups.clear();
}

const STDERR_LINE_BYTES = 16 * 1024;
/** How npm (offline or not), uv and curl-like tools say a package or host could not be reached. */
const NETWORK_ERROR = /\b(ENOTCACHED|ENOTFOUND|EAI_AGAIN|ENETUNREACH|ECONNREFUSED)\b|network was disabled|Network is unreachable|dns error|Could not resolve host/i;

export function describeExit(exit: ChildExit): string {
  if (exit.lost !== undefined) return exit.lost;
  if (exit.spawnError !== undefined) return `could not be started: ${exit.spawnError}`;
  if (exit.breach !== undefined) return `was stopped: ${exit.breach.message}`;
  if (exit.isOfflineFetch === true && exit.code !== 0) {
    return `exited with code ${exit.code ?? exit.signal} after a network error with its sandbox network off: ` +
      'a cold npx/uvx cache cannot be filled offline; run `mcpproxy prefetch` with the same configuration first';
  }
  return exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

export class Child {
  readonly pid: number | undefined;
  #proc: ChildProcessWithoutNullStreams;
  #state: ChildState = 'running';
  #opts: ChildOptions;
  #log: Logger;
  #events: ChildEvents;
  #exited: Promise<ChildExit>;
  #spawned: Promise<ChildExit | undefined>;
  #cgroup: ChildCgroup | undefined;
  #breach: Breach | undefined;
  #lifetimeTimer: NodeJS.Timeout | undefined;
  #sawNetworkError = false;

  constructor(opts: ChildOptions, events: ChildEvents) {
    this.#opts = opts;
    this.#events = events;
    const spawning = opts.sandbox === undefined ? undefined : startInternal('spawn sandboxed', { 'mcpproxy.sandbox.bwrap': opts.sandbox.plan.bwrap !== undefined, 'mcpproxy.sandbox.cgroup': opts.sandbox.plan.cgroup !== undefined });
    // A sandboxed child starts as a small sh wrapper that joins its cgroup, sets rlimits, then execs it.
    const launch = opts.sandbox === undefined ? undefined : launchSandboxed(opts.sandbox, opts.command, opts.args);
    this.#cgroup = launch?.cgroup;
    if (this.#cgroup !== undefined) liveCgroups.add(this.#cgroup);
    // detached: the child leads a new process group, so stop() reaches npx/uvx grandchildren too.
    this.#proc = spawn(launch?.command ?? opts.command, launch?.args ?? opts.args, { env: opts.env, cwd: opts.cwd, stdio: 'pipe', detached: true, windowsHide: true });
    this.pid = this.#proc.pid;
    if (this.pid !== undefined) liveGroups.add(this.pid);
    this.#log = opts.log.child({ child: this.pid ?? 'none' });
    if (launch?.warning !== undefined) this.#log.warn('sandbox', { error: launch.warning });
    const lifetimeMs = opts.sandbox?.plan.lifetimeMs;
    if (lifetimeMs !== undefined) {
      this.#lifetimeTimer = setTimeout(() => {
        if (this.#state !== 'running') return; // already on its way out for another reason
        this.#breach = lifetimeBreach(lifetimeMs);
        void this.stop();
      }, lifetimeMs).unref();
    }
    this.#exited = new Promise((resolve) => this.#watch(resolve));
    this.#spawned = Promise.race([
      new Promise<undefined>((resolve) => this.#proc.once('spawn', () => resolve(undefined))),
      this.#exited,
    ]);
    if (spawning !== undefined) void this.#spawned.then((failed) => spawning.end(failed === undefined ? undefined : 'spawn_failed'));
    if (this.pid !== undefined) this.#log.info('child started', { command: opts.command });
  }

  /** Resolves undefined once the process runs, or with the exit if it could not be started. */
  get spawned(): Promise<ChildExit | undefined> {
    return this.#spawned;
  }

  /** CPU seconds and memory of this child and all it started; undefined once it has exited. */
  usage(): Usage | undefined {
    if (this.pid === undefined || this.#state === 'exited') return undefined;
    return childUsage(this.pid, this.#cgroup?.dir);
  }

  /** Writes one message; false when the child is not running or its stdin queue is over the bound. */
  send(msg: JsonRpcMessage): boolean {
    if (this.#state !== 'running') return false;
    const stdin = this.#proc.stdin;
    if (stdin.destroyed || stdin.writableLength > this.#opts.maxStdinQueueBytes) return false;
    // Node buffers what the pipe has not taken yet; the bound above keeps that buffer finite.
    stdin.write(JSON.stringify(msg) + '\n');
    return true;
  }

  /** End stdin, then SIGTERM, then SIGKILL to the whole process group and cgroup, each after a grace period. */
  async stop(): Promise<ChildExit> {
    if (this.#state === 'running') {
      this.#state = 'stopping';
      this.#proc.stdin.end();
      const grace = this.#opts.stopGraceMs;
      if (!(await this.#exitsWithin(grace))) {
        this.#signalGroup('SIGTERM');
        if (!(await this.#exitsWithin(grace))) this.#killHard();
      }
    }
    return this.#exited;
  }

  async #exitsWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => { timer = setTimeout(resolve, ms, false); });
    const done = await Promise.race([this.#exited.then(() => true as const), timeout]);
    clearTimeout(timer);
    return done;
  }

  #signalGroup(signal: NodeJS.Signals): void {
    if (this.pid === undefined) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  }

  /** SIGKILL to the group, and to the cgroup: that also reaches what escaped the group (setsid, double fork). */
  #killHard(): void {
    this.#signalGroup('SIGKILL');
    this.#cgroup?.kill();
  }

  #watch(resolve: (exit: ChildExit) => void): void {
    const proc = this.#proc;
    const framer = new LineFramer(this.#opts.maxMessageBytes, {
      line: (text) => this.#onLine(text),
      oversized: (bytes) => this.#log.warn('child message over --max-message-bytes dropped', { bytes }),
    });
    const stderr = new LineFramer(STDERR_LINE_BYTES, {
      line: (text) => {
        if (this.#opts.sandbox?.plan.bwrap?.isNetworkOff === true && NETWORK_ERROR.test(text)) this.#sawNetworkError = true;
        this.#log.info('child stderr', { line: text });
      },
      oversized: (bytes) => this.#log.info('child stderr line too long, dropped', { bytes }),
    });
    proc.stdout.on('data', (chunk: Buffer) => framer.push(chunk));
    proc.stdout.on('end', () => framer.end());
    proc.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    // EPIPE on stdin after the child died is reported by 'exit'; it must not crash the proxy.
    proc.stdin.on('error', (err) => this.#log.debug('child stdin error', { error: err.message }));
    proc.stdout.on('error', () => {});
    proc.stderr.on('error', () => {});

    const finish = (exit: ChildExit): void => {
      if (this.#state === 'exited') return;
      this.#state = 'exited';
      clearTimeout(this.#lifetimeTimer);
      const sandbox = this.#opts.sandbox;
      const breach = this.#breach ?? (sandbox && detectBreach(sandbox.plan, this.#cgroup, exit.signal));
      if (breach !== undefined) exit = { ...exit, breach };
      if (this.#sawNetworkError) exit = { ...exit, isOfflineFetch: true };
      // The leader is gone; anything left in its group (npx/uvx grandchildren) goes with it.
      this.#signalGroup('SIGTERM');
      const reaper = setTimeout(() => {
        this.#killHard();
        if (this.pid !== undefined) liveGroups.delete(this.pid);
        if (this.#cgroup !== undefined) {
          liveCgroups.delete(this.#cgroup);
          void this.#cgroup.remove();
        }
      }, this.#opts.stopGraceMs);
      reaper.unref();
      const level = exit.spawnError !== undefined || breach !== undefined || (exit.code !== 0 && exit.code !== null) ? 'warn' : 'info';
      this.#log[level]('child exit', { code: exit.code, signal: exit.signal, error: exit.spawnError, breach: breach?.message });
      resolve(exit);
      this.#events.exit(exit);
    };
    proc.on('error', (err: NodeJS.ErrnoException) => {
      if (this.pid === undefined) {
        finish({ code: null, signal: null, spawnError: `${err.code ?? 'error'} (${this.#opts.command})` });
      } else {
        this.#log.warn('child process error', { error: err.message });
      }
    });
    // 'exit' can come before the last of stdout is read (a big reply written just before exiting):
    // the exit is reported once stdout has ended too, or after the grace period (a grandchild may
    // hold stdout open).
    let isStdoutDone = false;
    let exitInfo: ChildExit | undefined;
    const finishWhenDrained = (): void => {
      if (exitInfo !== undefined && isStdoutDone) finish(exitInfo);
    };
    proc.stdout.once('close', () => {
      isStdoutDone = true;
      finishWhenDrained();
    });
    proc.on('exit', (code, signal) => {
      exitInfo = this.#opts.sandbox?.plan.bwrap === undefined ? { code, signal } : signalOfBwrapExit(code, signal);
      finishWhenDrained();
      setTimeout(() => finish(exitInfo!), this.#opts.stopGraceMs).unref();
    });
  }

  #onLine(text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.#log.warn('child wrote a line that is not JSON, skipped', { line: truncate(text, 200) });
      return;
    }
    const reason = invalidReason(value);
    if (reason !== undefined) {
      this.#log.warn('child wrote a message that is not JSON-RPC, skipped', { reason });
      return;
    }
    try {
      this.#events.message(value as JsonRpcMessage);
    } catch (err) {
      // A bug on the child→client path must cost one message, not every session of the proxy.
      this.#log.error('routing a child message failed', { error: (err as Error)?.stack ?? String(err) });
    }
  }
}

/**
 * bwrap reports a child killed by signal N as exit code 128+N; as the signal again, a SIGXCPU can name
 * its limit and logs read the same with and without the sandbox.
 */
function signalOfBwrapExit(code: number | null, signal: NodeJS.Signals | null): ChildExit {
  const name = code !== null && code > 128 ? Object.entries(constants.signals).find(([, n]) => n === code - 128)?.[0] : undefined;
  return name === undefined ? { code, signal } : { code: null, signal: name as NodeJS.Signals };
}
