/**
 * One stdio MCP server process: spawned without a shell in its own process group, stdout framed into
 * JSON-RPC messages, stderr relayed to the log, stdin written with a bound, stopped as a whole group.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { LineFramer } from './framer.ts';
import type { JsonRpcMessage } from '../protocol/message.ts';
import { LogBudget, truncate, type Logger } from '../observe/log.ts';
import { ChildStderr, headlineOf } from './child-stderr.ts';
import { messagesOfLine, oversizedReply, TopLevelScanner } from './reply-faults.ts';
import { startInternal } from '../trace/internal-spans.ts';
import { constants } from 'node:os';
import type { ChildCgroup } from './sandbox/cgroup.ts';
import { ChildGroup } from './child-group.ts';
import { detectBreach, hiddenByView, launchSandboxed, lifetimeBreach, type Breach, type SandboxRun } from './sandbox/launch.ts';
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
  /** Set when the proxy stopped a child that broke its side of stdio while running (closed stdout or stdin). */
  fault?: string;
  /** The last lines it wrote to stderr, secrets masked. */
  stderrTail?: string[];
}

export interface ChildEvents {
  message(msg: JsonRpcMessage): void;
  exit(exit: ChildExit): void;
}

export type ChildState = 'running' | 'stopping' | 'exited';

export { killAllChildGroups } from './child-group.ts';

/** A flood of bad lines from one child: the first few per window are logged with a sample, the rest counted. */
const BAD_LINES = { perWindow: 3, windowMs: 10_000 };
/** What a line that does not parse stands for (JSON.parse can return any other value). */
const NOT_JSON = Symbol('not JSON');
/** How long a child that closed its stdout or stdin may take to exit by itself before it is stopped. */
const BROKEN_STDIO_GRACE_MS = 1000;

export function describeExit(exit: ChildExit): string {
  if (exit.lost !== undefined) return exit.lost;
  if (exit.spawnError !== undefined) return `could not be started: ${exit.spawnError}`;
  if (exit.breach !== undefined) return `was stopped: ${exit.breach.message}`;
  if (exit.fault !== undefined) return `${exit.fault}, so it was stopped`;
  if (exit.isOfflineFetch === true && exit.code !== 0) {
    return `exited with code ${exit.code ?? exit.signal} after a network error with its sandbox network off: ` +
      'a cold npx/uvx cache cannot be filled offline; run `mcpproxy prefetch` with the same configuration first';
  }
  const how = exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
  // What it said last, when it failed: "exited with code 1: Error: Cannot find module 'ajv'".
  const headline = exit.code === 0 ? undefined : headlineOf(exit.stderrTail ?? []);
  return headline === undefined ? how : `${how}: ${headline}`;
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
  #group: ChildGroup;
  #breach: Breach | undefined;
  #lifetimeTimer: NodeJS.Timeout | undefined;
  #stderr: ChildStderr;
  #fault: string | undefined;
  /** Settles once nothing is left of the child's process group (or it was SIGKILLed). */
  #reaped: Promise<void> | undefined;
  #notJson: LogBudget;
  #notJsonRpc: LogBudget;
  #oversized: LogBudget;

  constructor(opts: ChildOptions, events: ChildEvents) {
    this.#opts = opts;
    this.#events = events;
    const spawning = opts.sandbox === undefined ? undefined : startInternal('spawn sandboxed', { 'mcpproxy.sandbox.bwrap': opts.sandbox.plan.bwrap !== undefined, 'mcpproxy.sandbox.cgroup': opts.sandbox.plan.cgroup !== undefined });
    // A sandboxed child starts as a small sh wrapper that joins its cgroup, sets rlimits, then execs it.
    const launch = opts.sandbox === undefined ? undefined : launchSandboxed(opts.sandbox, opts.command, opts.args);
    this.#cgroup = launch?.cgroup;
    // detached: the child leads a new process group, so stop() reaches npx/uvx grandchildren too.
    this.#proc = spawn(launch?.command ?? opts.command, launch?.args ?? opts.args, { env: opts.env, cwd: opts.cwd, stdio: 'pipe', detached: true, windowsHide: true });
    this.pid = this.#proc.pid;
    this.#group = new ChildGroup(this.pid, this.#cgroup, opts.stopGraceMs);
    this.#log = opts.log.child({ child: this.pid ?? 'none' });
    if (launch?.warning !== undefined) this.#log.warn('sandbox', { error: launch.warning });
    const sandbox = opts.sandbox;
    this.#stderr = new ChildStderr(this.#log, sandbox?.plan.bwrap?.isNetworkOff === true, sandbox && ((text) => hiddenByView(sandbox, text)));
    this.#notJson = new LogBudget(this.#log, 'warn', 'child wrote a line that is not JSON, skipped', BAD_LINES);
    this.#notJsonRpc = new LogBudget(this.#log, 'warn', 'child wrote a message that is not JSON-RPC, skipped', BAD_LINES);
    this.#oversized = new LogBudget(this.#log, 'warn', 'child message over --max-message-bytes dropped', BAD_LINES);
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

  /** The last lines the child wrote to stderr, secrets masked. */
  stderrTail(): string[] {
    return this.#stderr.tail();
  }

  /**
   * End stdin, then SIGTERM, then SIGKILL to the whole process group and cgroup, each after a grace
   * period; resolves once the group is empty too: grandchildren that ignore SIGTERM are SIGKILLed even
   * when the leader went at once.
   */
  async stop(): Promise<ChildExit> {
    if (this.#state === 'running') {
      this.#state = 'stopping';
      this.#proc.stdin.end();
      const grace = this.#opts.stopGraceMs;
      if (!(await this.#exitsWithin(grace))) {
        this.#group.signal('SIGTERM');
        if (!(await this.#exitsWithin(grace))) this.#group.killHard();
      }
    }
    const exit = await this.#exited;
    await this.#reaped;
    return exit;
  }

  /**
   * The child closed its stdout or stdin: if it is still running a moment later (a child on its way out
   * closes them too), it can serve nobody, so it is stopped, and its exit says why.
   */
  #suspect(fault: string): void {
    setTimeout(() => {
      if (this.#state !== 'running' || this.#proc.exitCode !== null || this.#proc.signalCode !== null) return;
      this.#fault = fault;
      this.#log.warn('child broke stdio while running: stopping it', { fault });
      // No EOF step: its stdio is what is broken. Its callers are failed when it has exited.
      this.#group.signal('SIGTERM');
      void this.stop();
    }, BROKEN_STDIO_GRACE_MS).unref();
  }

  async #exitsWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => { timer = setTimeout(resolve, ms, false); });
    const done = await Promise.race([this.#exited.then(() => true as const), timeout]);
    clearTimeout(timer);
    return done;
  }

  #watch(resolve: (exit: ChildExit) => void): void {
    const proc = this.#proc;
    // A reply too big to hold is scanned as it passes, so its caller can be told by id.
    let scanner: TopLevelScanner | undefined;
    const framer = new LineFramer(this.#opts.maxMessageBytes, {
      line: (text) => this.#onLine(text),
      discarding: (bytes) => (scanner ??= new TopLevelScanner()).push(bytes),
      oversized: (bytes) => {
        const id = scanner?.responseId();
        scanner = undefined;
        this.#oversized.hit({ bytes, id });
        if (id !== undefined) this.#deliver(oversizedReply(id, bytes, this.#opts.maxMessageBytes));
      },
    });
    proc.stdout.on('data', (chunk: Buffer) => framer.push(chunk));
    proc.stdout.on('end', () => framer.end());
    proc.stderr.on('data', (chunk: Buffer) => this.#stderr.push(chunk));
    proc.stderr.on('end', () => this.#stderr.end());
    // EPIPE on stdin after the child died is reported by 'exit'; while it runs, it closed its stdin.
    proc.stdin.on('error', (err) => {
      this.#log.debug('child stdin error', { error: err.message });
      if ((err as NodeJS.ErrnoException).code === 'EPIPE') this.#suspect('closed its stdin but kept running');
    });
    proc.stdout.on('error', () => {});
    proc.stderr.on('error', () => {});

    const finish = (exit: ChildExit): void => {
      if (this.#state === 'exited') return;
      this.#state = 'exited';
      clearTimeout(this.#lifetimeTimer);
      const sandbox = this.#opts.sandbox;
      const breach = this.#breach ?? (sandbox && detectBreach(sandbox.plan, this.#cgroup, exit.signal));
      if (breach !== undefined) exit = { ...exit, breach };
      if (this.#stderr.sawNetworkError) exit = { ...exit, isOfflineFetch: true };
      if (this.#fault !== undefined) exit = { ...exit, fault: this.#fault };
      exit = { ...exit, stderrTail: this.#stderr.tail() };
      for (const budget of [this.#notJson, this.#notJsonRpc, this.#oversized]) budget.flush();
      // The leader is gone; anything left in its group (npx/uvx grandchildren) goes with it.
      this.#reaped = this.#group.reap();
      const level = exit.spawnError !== undefined || breach !== undefined || this.#fault !== undefined || (exit.code !== 0 && exit.code !== null) ? 'warn' : 'info';
      this.#log[level]('child exit', { code: exit.code, signal: exit.signal, error: exit.spawnError, breach: breach?.message, fault: this.#fault });
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
      this.#suspect('closed its stdout but kept running');
    });
    proc.on('exit', (code, signal) => {
      exitInfo = this.#opts.sandbox?.plan.bwrap === undefined ? { code, signal } : signalOfBwrapExit(code, signal);
      finishWhenDrained();
      setTimeout(() => finish(exitInfo!), this.#opts.stopGraceMs).unref();
    });
  }

  #onLine(line: string): void {
    // A UTF-8 byte order mark (Windows tools put one before the first line) is not part of the JSON.
    const text = line.charCodeAt(0) === 0xfeff ? line.slice(1) : line;
    const first = text.trimStart().charAt(0);
    if (first === '') return;
    let value: unknown;
    try {
      // A message is an object (or a 2025-03-26 batch): other lines are skipped before a costly failed parse.
      value = first === '{' || first === '[' ? JSON.parse(text) : NOT_JSON;
    } catch {
      value = NOT_JSON;
    }
    if (value === NOT_JSON) {
      this.#notJson.hit({ line: truncate(text, 200) });
      return;
    }
    const { messages, refused } = messagesOfLine(value);
    if (refused !== undefined) this.#notJsonRpc.hit({ reason: refused });
    for (const msg of messages) this.#deliver(msg);
  }

  #deliver(msg: JsonRpcMessage): void {
    try {
      this.#events.message(msg);
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
