/**
 * The two ways of serving sessions. Shared: one supervised child and one Hub for every session.
 * Independent: a child and a Hub per session, started with that session's environment and stopped with it.
 */
import type { Backend, ClientLink, StatelessTarget } from './contract.ts';
import type { ServerSpec } from '../config/server-spec.ts';
import { Child, describeExit, type ChildEvents, type ChildExit, type ChildOptions } from '../upstream/child.ts';
import type { SandboxRun } from '../upstream/sandbox/launch.ts';
import type { HostFacts } from '../upstream/sandbox/plan.ts';
import { childEnv } from './sandbox-setup.ts';
import type { Usage } from '../upstream/sandbox/usage.ts';
import type { Config } from '../config/config.ts';
import { ProxyError, RpcCode } from '../protocol/errors.ts';
import type { JsonObject, JsonRpcMessage } from '../protocol/message.ts';
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { UpstreamEra } from '../upstream/era-probe.ts';
import { UpstreamRoute } from '../upstream/upstream-route.ts';
import { Hub, type HubOutput } from '../routing/hub.ts';
import { Supervisor, type SupervisorEvents } from '../upstream/supervisor.ts';
import { RemoteUpstream } from '../upstream/remote/remote-upstream.ts';
import { RemoteSession } from '../upstream/remote/remote-session.ts';
import { remoteOptions } from './remote-member.ts';

const STOP_GRACE_MS = 2000;
const SWEEP_INTERVAL_MS = 1000;

export interface BackendDeps {
  config: Config;
  spec: ServerSpec;
  log: Logger;
  metrics: Metrics;
  /** The child's protocol era, once the startup probe knows it; absent means legacy. */
  era?: Promise<UpstreamEra>;
  /** Children running across every server now; with --max-children, new per-session children past it are refused. */
  childTotal?: () => number;
  /** The host as probed once at start, and paths no child may see; units build their sandbox from it. */
  sandboxHost?: { facts: HostFacts; hidden: string[] } | undefined;
  /** This server's sandbox (plan, home); undefined runs children as they are. */
  sandbox?: SandboxRun | undefined;
}

/** 503 when a new child would pass --max-children. */
export function checkChildBudget(deps: BackendDeps): void {
  const max = deps.config.maxChildren;
  if (max > 0 && deps.childTotal !== undefined && deps.childTotal() >= max) {
    throw new ProxyError(503, RpcCode.serverError, `too many child processes (--max-children ${max}); try again later`, { headers: { 'retry-after': '5' } });
  }
}

/** One running child's figures for /status and /metrics. */
export type ChildUsage = Usage & { pid: number };

/** A child stopped by a sandbox limit: its calls end naming the server and the limit, and the breach is counted. */
function reportBreach(deps: BackendDeps, exit: ChildExit, hub: Hub): void {
  if (exit.breach === undefined) return;
  deps.metrics.childLimitBreached(deps.spec.name, exit.breach.limit);
  hub.failCalls(`server ${deps.spec.name} was stopped: ${exit.breach.message}`);
}

const LEGACY: UpstreamEra = { era: 'legacy' };

function childOptions(deps: BackendDeps, sessionEnv: Record<string, string>): ChildOptions {
  const { config, spec, log } = deps;
  return {
    command: spec.command,
    args: spec.args,
    cwd: spec.cwd,
    env: childEnv(deps.sandbox, spec, sessionEnv),
    maxMessageBytes: config.maxMessageBytes,
    // Enough for a few maximum-size messages; past it the child is not reading and senders get an error.
    maxStdinQueueBytes: config.maxMessageBytes * 4,
    stopGraceMs: STOP_GRACE_MS,
    log,
    sandbox: deps.sandbox,
  };
}

function hubOutput(deps: BackendDeps, links: Map<string, ClientLink>, toChild: (msg: JsonRpcMessage) => boolean): HubOutput {
  return {
    toChild,
    toSession: (sessionId, msg, relatedId) => links.get(sessionId)?.deliver(msg, relatedId),
    note: (event, fields) => deps.log.debug(event, fields),
    callDone: (method, outcome, ms, errorMessage) => {
      // An error's text may quote what a client sent: masked like a log line before anyone can read it.
      deps.metrics.requestDone(deps.spec.name, method, outcome, ms, errorMessage === undefined ? undefined : deps.log.redact(errorMessage));
      if (deps.log.isEnabled('debug')) deps.log.debug('request done', { server: deps.spec.name, method, outcome, ms });
    },
  };
}

/** Runs `sweep` every second (unref'd): one timer for every request timeout, not one per request. */
function startSweep(sweep: () => void): NodeJS.Timeout {
  const timer = setInterval(sweep, SWEEP_INTERVAL_MS);
  timer.unref();
  return timer;
}

/** How long a caller without a handshake waits for the shared child's first initialize. */
const INITIALIZE_WAIT_MS = 30_000;

export class SharedBackend implements Backend, StatelessTarget {
  #links = new Map<string, ClientLink>();
  #hub: Hub;
  /** Created once the child's era is known. */
  #supervisor: Supervisor | RemoteUpstream | undefined;
  #isStopped = false;
  #route: UpstreamRoute;
  #sweep: NodeJS.Timeout;
  #metrics: Metrics;
  #initWaiters = new Set<(result: JsonObject) => void>();
  #hasBeenUp = false;
  #restarts = 0;
  /** Why a remote could not be reached while its era was still being probed. */
  #unreachable: string | undefined;

  /**
   * `env`: variables for the child on top of the operator's (a stateless caller's, in independent mode).
   * `changed`: told when the child comes up or goes down. `label` names the child in errors (a pool's replica).
   */
  constructor(deps: BackendDeps, env: Record<string, string> = {}, changed: () => void = () => {}, label?: string) {
    this.#metrics = deps.metrics;
    this.#route = new UpstreamRoute((msg) => this.#hub.fromChild(msg));
    const output = hubOutput(deps, this.#links, (msg) => this.#route.send(msg));
    output.initialized = (result) => {
      this.#hasBeenUp = true;
      for (const wake of this.#initWaiters) wake(result);
      this.#initWaiters.clear();
    };
    this.#hub = new Hub(output, { cacheInitialize: true, now: Date.now });
    // The child starts only after the era probe's sibling is done: two first runs of `npx -y pkg` at
    // once race on npm's cache (ENOTEMPTY), and the probe's run warms it. Messages wait in the route.
    const start = (era: UpstreamEra): void => {
      if (this.#isStopped) return;
      const events: SupervisorEvents = {
        message: (msg) => this.#route.receive(msg),
        up: (isRestart) => {
          if (isRestart) {
            this.#restarts++;
            this.#metrics.childRestarted(deps.spec.name);
            this.#route.restarted();
          }
          this.#hub.childUp();
          changed();
        },
        down: (reason, exit) => {
          reportBreach(deps, exit, this.#hub);
          this.#hub.childDown(label === undefined ? reason : `${label} ${reason}`);
          changed();
        },
      };
      const supervisor = deps.spec.remote === undefined
        ? new Supervisor(childOptions(deps, env), events)
        : new RemoteUpstream(remoteOptions(deps.spec, era, deps.log, deps.config.maxMessageBytes, env), events);
      this.#supervisor = supervisor;
      this.#route.connect(era, (msg) => supervisor.send(msg));
    };
    if (deps.era === undefined) start(LEGACY);
    else void deps.era.then(start);
    this.#sweep = startSweep(() => this.#hub.expireCalls(deps.spec.requestTimeoutMs));
  }

  async open(sessionId: string, link: ClientLink): Promise<void> {
    this.#links.set(sessionId, link);
    this.#hub.addSession(sessionId);
  }

  /** Attaches a caller with no handshake of its own (a 2026-07-28 request or listen stream). */
  attachStateless(sessionId: string, link: ClientLink): void {
    this.#links.set(sessionId, link);
    this.#hub.addSession(sessionId, { isStateless: true });
  }

  /**
   * The child's InitializeResult; if no client has initialized it yet, the proxy does so with `params`.
   * Rejects with 503 when the child is down or does not answer in time.
   */
  async initializeResult(params: JsonObject): Promise<JsonObject> {
    const cached = this.#hub.initializeResult;
    if (cached !== undefined) return cached;
    const down = this.#supervisor?.downReason ?? this.#unreachable ?? 'starting';
    if (down !== undefined && down !== 'starting') throw new ProxyError(503, RpcCode.serverError, `upstream unavailable: ${down}`);
    this.#hub.ensureInitialized(params);
    // A modern child's adapter answers initialize synchronously.
    const answered = this.#hub.initializeResult;
    if (answered !== undefined) return answered;
    let timer: NodeJS.Timeout | undefined;
    let wake: ((result: JsonObject) => void) | undefined;
    try {
      return await new Promise<JsonObject>((resolve, reject) => {
        wake = resolve;
        this.#initWaiters.add(resolve);
        timer = setTimeout(() => reject(new ProxyError(503, RpcCode.serverError, 'upstream unavailable: the child did not answer initialize')), INITIALIZE_WAIT_MS);
      });
    } finally {
      clearTimeout(timer);
      if (wake !== undefined) this.#initWaiters.delete(wake);
    }
  }

  failPending(reason: string): void {
    this.#hub.failCalls(reason);
  }

  /** The upstream cannot be reached before it ever came up (a remote's probe): calls fail now, with `reason`. */
  unreachable(reason: string): void {
    if (this.#supervisor !== undefined) return;
    this.#hub.childDown(reason);
    this.#unreachable = reason;
  }

  /** No session attached and nothing in flight: a pooled child may be stopped. */
  get isIdle(): boolean {
    return this.#links.size === 0 && this.#hub.pendingCount === 0;
  }

  /** Nothing in flight and every attached session re-opens by itself: an idle lazy server may stop. */
  get canSleep(): boolean {
    if (this.#hub.pendingCount > 0) return false;
    for (const link of this.#links.values()) if (link.isReconnectable !== true) return false;
    return true;
  }

  /** Whether a child ever completed initialize (a server that never did is failed, not restarting). */
  get hasBeenUp(): boolean {
    return this.#hasBeenUp;
  }

  /** Times the child was restarted after it exited. */
  get restarts(): number {
    return this.#restarts;
  }

  /** The child's pid while one runs. */
  get pids(): number[] {
    const pid = this.#supervisor?.pid;
    return pid === undefined ? [] : [pid];
  }

  get usage(): ChildUsage[] {
    const pid = this.#supervisor?.pid;
    const usage = this.#supervisor?.usage();
    return pid === undefined || usage === undefined ? [] : [{ pid, ...usage }];
  }

  /** Ends every attached session (the server is going to sleep or away); their links decide what follows. */
  endSessions(reason: string): void {
    for (const [sessionId, link] of [...this.#links]) {
      this.close(sessionId);
      link.end(reason);
    }
  }

  receive(sessionId: string, msg: JsonRpcMessage): void {
    this.#hub.fromClient(sessionId, msg);
  }

  close(sessionId: string): void {
    this.#links.delete(sessionId);
    this.#hub.removeSession(sessionId);
  }

  notReadyReason(): string | undefined {
    return this.#supervisor === undefined ? this.#unreachable ?? 'detecting the upstream protocol' : this.#supervisor.downReason;
  }

  get childCount(): number {
    return this.#supervisor?.isRunning === true ? 1 : 0;
  }

  get pendingCount(): number {
    return this.#hub.pendingCount;
  }

  async stop(): Promise<void> {
    this.#isStopped = true;
    clearInterval(this.#sweep);
    await this.#supervisor?.stop();
  }
}

interface IsolatedSession {
  child: Child | RemoteSession;
  hub: Hub;
  secrets: string[];
}

export class IndependentBackend implements Backend {
  #deps: BackendDeps;
  #sessions = new Map<string, IsolatedSession>();
  #links = new Map<string, ClientLink>();
  #stopping = new Set<Promise<unknown>>();
  #sweep: NodeJS.Timeout;
  #lastSpawnError: string | undefined;
  #isStopped = false;
  /** Children being spawned: counted against --max-children before they are sessions. */
  #starting = 0;

  constructor(deps: BackendDeps) {
    this.#deps = deps;
    this.#sweep = startSweep(() => {
      for (const { hub } of this.#sessions.values()) hub.expireCalls(deps.spec.requestTimeoutMs);
    });
  }

  async open(sessionId: string, link: ClientLink, env: Record<string, string>): Promise<void> {
    checkChildBudget(this.#deps);
    this.#starting++;
    try {
      await this.#open(sessionId, link, env);
    } finally {
      this.#starting--;
    }
  }

  async #open(sessionId: string, link: ClientLink, env: Record<string, string>): Promise<void> {
    const era = await (this.#deps.era ?? LEGACY);
    if (this.#isStopped) throw new ProxyError(503, RpcCode.serverError, 'proxy shutting down');
    const log = this.#deps.log.child({ session: sessionId });
    for (const value of Object.values(env)) log.addSecret(value);
    let hub: Hub | undefined;
    const route = new UpstreamRoute((msg) => hub?.fromChild(msg));
    // A remote member's session takes the child's place; `env` then holds the client's forwarded headers.
    const events: ChildEvents = {
      message: (msg) => route.receive(msg),
      exit: (exit) => {
        const reason = `child ${describeExit(exit)}`;
        if (hub !== undefined) reportBreach(this.#deps, exit, hub);
        hub?.childDown(reason);
        // The session cannot go on without its child: the client is told and starts a new one.
        if (this.#sessions.get(sessionId)?.child === child) this.#links.get(sessionId)?.end(reason);
      },
    };
    const { spec, config } = this.#deps;
    const child = spec.remote === undefined
      ? new Child(childOptions({ ...this.#deps, log }, env), events)
      : new RemoteSession(remoteOptions(spec, era, log, config.maxMessageBytes, env), events);
    const failed = await child.spawned;
    if (failed !== undefined) {
      for (const value of Object.values(env)) log.removeSecret(value);
      this.#lastSpawnError = describeExit(failed);
      throw new ProxyError(502, RpcCode.serverError, `the MCP server ${this.#lastSpawnError}`);
    }
    this.#lastSpawnError = undefined;
    if (this.#isStopped) {
      // The proxy began shutting down while this child started: it must not outlive the proxy.
      void child.stop().then(() => { for (const value of Object.values(env)) log.removeSecret(value); });
      throw new ProxyError(503, RpcCode.serverError, 'proxy shutting down');
    }
    route.connect(era, (msg) => child.send(msg));
    hub = new Hub(hubOutput(this.#deps, this.#links, (msg) => route.send(msg)), { cacheInitialize: false, now: Date.now });
    hub.addSession(sessionId);
    this.#links.set(sessionId, link);
    this.#sessions.set(sessionId, { child, hub, secrets: Object.values(env) });
  }

  receive(sessionId: string, msg: JsonRpcMessage): void {
    this.#sessions.get(sessionId)?.hub.fromClient(sessionId, msg);
  }

  close(sessionId: string): void {
    const session = this.#sessions.get(sessionId);
    this.#links.delete(sessionId);
    if (session === undefined) return;
    this.#sessions.delete(sessionId);
    session.hub.removeSession(sessionId);
    const stopped = session.child.stop();
    // Values stay masked until the child (which may still log them) is gone.
    void stopped.then(() => { for (const value of session.secrets) this.#deps.log.removeSecret(value); });
    this.#stopping.add(stopped);
    void stopped.finally(() => this.#stopping.delete(stopped));
  }

  failPending(reason: string): void {
    for (const { hub } of this.#sessions.values()) hub.failCalls(reason);
  }

  notReadyReason(): string | undefined {
    return this.#lastSpawnError === undefined ? undefined : `the last child ${this.#lastSpawnError}`;
  }

  get childCount(): number {
    return this.#sessions.size + this.#starting;
  }

  /** Each running child with the session it serves. */
  get childSessions(): Array<{ pid: number; session: string }> {
    return [...this.#sessions].flatMap(([session, { child }]) => (child.pid === undefined ? [] : [{ pid: child.pid, session }]));
  }

  get pids(): number[] {
    return [...this.#sessions.values()].flatMap(({ child }) => (child.pid === undefined ? [] : [child.pid]));
  }

  get usage(): ChildUsage[] {
    return [...this.#sessions.values()].flatMap(({ child }) => {
      const usage = child.usage();
      return child.pid === undefined || usage === undefined ? [] : [{ pid: child.pid, ...usage }];
    });
  }

  get pendingCount(): number {
    let count = 0;
    for (const { hub } of this.#sessions.values()) count += hub.pendingCount;
    return count;
  }

  async stop(): Promise<void> {
    this.#isStopped = true;
    clearInterval(this.#sweep);
    for (const sessionId of [...this.#sessions.keys()]) this.close(sessionId);
    await Promise.all(this.#stopping);
  }
}
