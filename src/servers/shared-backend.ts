/** Shared: one supervised child (or remote connection) and one Hub for every session of a server. */
import type { Backend, ClientLink, StatelessTarget } from './contract.ts';
import { ProxyError, RpcCode } from '../protocol/errors.ts';
import type { JsonObject, JsonRpcMessage } from '../protocol/message.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { UpstreamEra } from '../upstream/era-probe.ts';
import type { UpstreamRoute } from '../upstream/upstream-route.ts';
import { Hub } from '../routing/hub.ts';
import { Supervisor, type SupervisorEvents } from '../upstream/supervisor.ts';
import { RemoteUpstream } from '../upstream/remote/remote-upstream.ts';
import { remoteOptions } from './remote-member.ts';
import { PER_CALL_CAPABILITIES, SHARED_INITIALIZE } from './proxy-initialize.ts';
import { reportBreach, LEGACY, beforeStart, childOptions, hubOutput, startSweep, upstreamRoute, type BackendDeps, type ChildUsage } from './backend-deps.ts';

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
  #isRemote: boolean;
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
    this.#isRemote = deps.spec.remote !== undefined;
    this.#route = upstreamRoute(deps, deps.log, (msg) => this.#hub.fromChild(msg));
    const output = hubOutput(deps, this.#links, (msg) => this.#route.send(msg));
    output.initialized = (result) => {
      this.#hasBeenUp = true;
      for (const wake of this.#initWaiters) wake(result);
      this.#initWaiters.clear();
    };
    this.#hub = new Hub(output, { cacheInitialize: true, relayCapabilities: PER_CALL_CAPABILITIES, now: Date.now });
    // A stdio child's first handshake is always the proxy's own, made at once (it waits in the route until
    // the child runs): no client's capabilities become everyone's, and ready means answered.
    if (!this.#isRemote) this.#hub.ensureInitialized(SHARED_INITIALIZE);
    // A remote starts once its era is known; a stdio child once no other child of its server is in its
    // first start (two first runs of `npx -y pkg` at once race on npm's cache). Messages wait in the route.
    const start = (era: UpstreamEra | undefined): void => {
      if (this.#isStopped) return;
      const events: SupervisorEvents = {
        message: (msg) => this.#route.receive(msg),
        up: (isRestart) => {
          if (isRestart) {
            this.#restarts++;
            this.#metrics.childRestarted(deps.spec.name);
          }
          this.#route.childUp();
          this.#hub.childUp();
          // A child that died before its first answer left no handshake: the next one gets the proxy's again.
          if (!this.#isRemote) this.#hub.ensureInitialized(SHARED_INITIALIZE);
          changed();
        },
        down: (reason, exit) => {
          this.#route.childGone();
          reportBreach(deps, exit, this.#hub);
          this.#hub.childDown(label === undefined ? reason : `${label} ${reason}`);
          changed();
        },
        answering: changed,
      };
      const supervisor = deps.spec.remote === undefined
        ? new Supervisor(childOptions(deps, env), events, () => this.#route.isLegacy)
        : new RemoteUpstream(remoteOptions(deps, era ?? LEGACY, deps.log, env), events);
      this.#supervisor = supervisor;
      this.#route.connect((msg) => supervisor.send(msg), era);
    };
    void beforeStart(deps).then(start);
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
    const supervisor = this.#supervisor;
    if (supervisor === undefined) return this.#unreachable ?? (this.#isRemote ? 'detecting the upstream protocol' : 'starting');
    // Ready means the child answers, not only that it runs.
    return supervisor.downReason ?? (supervisor instanceof Supervisor ? supervisor.notAnswering : undefined);
  }

  /** The last lines the child wrote to stderr (secrets masked): why a server that fails to start fails. */
  get stderrTail(): string[] {
    return this.#supervisor instanceof Supervisor ? this.#supervisor.stderrTail : [];
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
    this.#route.close();
    await this.#supervisor?.stop();
  }
}
