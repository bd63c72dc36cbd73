/**
 * One configured MCP server as a unit: its spec, the era probe, its backend (one shared child or a
 * child per session), the pool that serves its stateless callers, and its state. Transports reach it
 * through Backend and StatelessSource; a lazy server starts on the first session or call that needs it
 * and goes back to sleep after its idle timeout with nothing in flight.
 */
import { startInternal } from '../trace/internal-spans.ts';
import type { ServerSpec } from '../config/server-spec.ts';
import type { Logger } from '../observe/log.ts';
import { ProxyError, RpcCode } from '../protocol/errors.ts';
import type { JsonRpcMessage } from '../protocol/message.ts';
import type { UpstreamEra } from '../upstream/era-probe.ts';
import { EraMemory, eraFile } from '../upstream/era-memory.ts';
import type { BackendDeps } from './backend-deps.ts';
import { IndependentBackend } from './independent-backend.ts';
import { SharedBackend } from './shared-backend.ts';
import type { Backend, ClientLink, StatelessSource, StatelessTarget } from './contract.ts';
import { matcherOf } from './name-filter.ts';
import { ReplicaPool, type ReplicaStatus } from './replica-pool.ts';
import { paramHeaderRegistry, remoteEra } from './remote-member.ts';
import { StatelessPool } from './stateless-pool.ts';
import { ToolGate } from './tool-gate.ts';
import { PrincipalBackend } from './principal-backend.ts';
import { sandboxForServer, type ServerSandbox } from './sandbox-setup.ts';

export type ServerState = 'starting' | 'ready' | 'sleeping' | 'restarting' | 'failed' | 'disabled';

const IDLE_CHECK_MS = 1_000;
/**
 * Longest a later child waits for the server's first child to answer once (a cold `npx -y` install
 * typically fits); past it the later child starts anyway, so a first session that never sends anything
 * cannot hold every other one back.
 */
const FIRST_START_WAIT_MS = 60_000;

type Running = { backend: SharedBackend | ReplicaPool | IndependentBackend | PrincipalBackend; pool: StatelessPool };

/** Independent mode: children come and go with their sessions (or principals); none is "the" child. */
function isPerCaller(backend: Running['backend']): backend is IndependentBackend | PrincipalBackend {
  return backend instanceof IndependentBackend || backend instanceof PrincipalBackend;
}

export class ServerUnit implements Backend, StatelessSource {
  readonly spec: ServerSpec;
  readonly log: Logger;
  #deps: Omit<BackendDeps, 'spec' | 'era' | 'log'>;
  #sandbox: ServerSandbox | undefined;
  #running: Running | undefined;
  /** Set when a pinned era is wrong or the sandbox cannot be set up: the server cannot be served until it is reconfigured. */
  #fatal: string | undefined;
  #lastUsedMs = Date.now();
  #idleTimer: NodeJS.Timeout | undefined;
  #stateListeners = new Set<() => void>();
  #isStopped = false;
  /** List answers checked (and the `tools` filter, if any) on every session and caller, the aggregate's catalog included. */
  #gate: ToolGate;
  /** Each stateless target of the pool, behind the gate. */
  #gated = new WeakMap<StatelessTarget, StatelessTarget>();
  /** Ends a remote member's wait for its server when the unit stops. */
  #probeAbort = new AbortController();
  /** A stdio server's era as its children showed it, kept for every later child (and across sleeps). */
  #eras: EraMemory | undefined;

  constructor(spec: ServerSpec, deps: Omit<BackendDeps, 'spec' | 'era' | 'log'> & { log: Logger }) {
    this.spec = spec;
    this.log = spec.name === 'default' ? deps.log : deps.log.child({ server: spec.name });
    this.#deps = spec.remote === undefined ? deps : { ...deps, paramHeaders: paramHeaderRegistry(this.log) };
    this.#gate = new ToolGate(matcherOf(spec.filter), this.log);
    if (!spec.isDisabled) {
      this.#sandbox = sandboxForServer(spec, deps.sandboxHost?.facts, deps.sandboxHost?.hidden ?? [], this.log);
      this.#fatal = this.#sandbox.fatal;
    }
    if (spec.remote === undefined) {
      const { stateDir } = deps.config;
      this.#eras = new EraMemory({
        pin: spec.upstreamProtocol,
        file: stateDir === undefined ? undefined : eraFile(stateDir, spec.command, spec.args, spec.cwd),
        gateMs: Math.min(FIRST_START_WAIT_MS, spec.requestTimeoutMs),
        log: this.log,
        onFatal: (reason) => this.#cannotServe(reason),
      });
    }
    if (!spec.isDisabled && this.#fatal === undefined && spec.lifecycle === 'eager') this.#wake();
  }

  get state(): ServerState {
    if (this.spec.isDisabled) return 'disabled';
    if (this.#fatal !== undefined) return 'failed';
    const running = this.#running;
    if (running === undefined) return 'sleeping';
    const reason = running.backend.notReadyReason();
    if (reason === undefined) return 'ready';
    if (!isPerCaller(running.backend)) {
      if (running.backend.hasBeenUp) return 'restarting';
      return reason.startsWith('starting') || reason.startsWith('detecting') ? 'starting' : 'failed';
    }
    return 'failed';
  }

  /** Why the server cannot serve now (undefined: it can, or it sleeps and starts on demand). */
  notReadyReason(): string | undefined {
    if (this.spec.isDisabled) return 'disabled in the configuration';
    if (this.#fatal !== undefined) return this.#fatal;
    return this.#running?.backend.notReadyReason();
  }

  /** Why the server can never be served as configured (its era probe failed, strict sandbox refused), if so. */
  get fatalReason(): string | undefined {
    return this.#fatal;
  }

  /** Called with every change the unit can see (start, sleep, failure); for the aggregate's catalog. */
  onStateChange(listener: () => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /** Children of this server now: its shared child or per-session children, and stateless pool children. */
  get childCount(): number {
    const running = this.#running;
    return running === undefined ? 0 : running.backend.childCount + running.pool.size;
  }

  get pendingCount(): number {
    return this.#running?.backend.pendingCount ?? 0;
  }

  get pids(): number[] {
    return this.#running?.backend.pids ?? [];
  }

  /** Each running child's CPU seconds and memory. */
  get usage(): ReadonlyArray<{ pid: number; cpuSeconds: number; rssBytes: number }> {
    return this.#running?.backend.usage ?? [];
  }

  /** A shared server's last stderr lines (secrets masked), for /status and the console: why it fails to start. */
  get stderrTail(): string[] {
    const backend = this.#running?.backend;
    return backend instanceof SharedBackend ? backend.stderrTail : [];
  }

  /** The sandbox mode and what enforces which control, for /status; undefined when off. */
  get sandboxSummary(): ServerSandbox['summary'] {
    return this.#sandbox?.summary;
  }

  /** Independent mode: which session each running child serves (shared children serve every session). */
  get childSessions(): Array<{ pid: number; session: string }> {
    const backend = this.#running?.backend;
    return backend instanceof IndependentBackend ? backend.childSessions : [];
  }

  /** Independent mode: the children that serve stateless (2026-07-28) callers, apart from any session. */
  get statelessChildren(): Array<{ pid: number; principalId: string | undefined }> {
    return this.#running?.pool.children ?? [];
  }

  /** Each replica of a pool (`replicas` > 1), for /status. */
  get replicas(): ReplicaStatus[] | undefined {
    const backend = this.#running?.backend;
    return backend instanceof ReplicaPool ? backend.replicas : undefined;
  }

  async open(sessionId: string, link: ClientLink, env: Record<string, string>, _scope?: string[], principalId?: string): Promise<void> {
    const running = this.#ensureRunning();
    try {
      await running.backend.open(sessionId, this.#gate.attach(sessionId, link), env, undefined, principalId);
    } catch (err) {
      this.#gate.detach(sessionId);
      throw err;
    }
  }

  receive(sessionId: string, msg: JsonRpcMessage): void {
    this.#lastUsedMs = Date.now();
    if (!this.#gate.admit(sessionId, msg)) return;
    this.#running?.backend.receive(sessionId, msg);
  }

  close(sessionId: string): void {
    this.#gate.detach(sessionId);
    this.#running?.backend.close(sessionId);
  }

  /** StatelessSource: the shared backend, or a pooled one per distinct environment (independent mode). */
  get(env: Record<string, string>, principalId?: string): StatelessTarget {
    this.#lastUsedMs = Date.now();
    const target = this.#ensureRunning().pool.get(env, principalId);
    // The same target for the same backend: callers key what they learn of it (x-mcp-header declarations) by it.
    let gated = this.#gated.get(target);
    if (gated === undefined) this.#gated.set(target, (gated = this.#gatedTarget(target)));
    return gated;
  }

  #gatedTarget(target: StatelessTarget): StatelessTarget {
    const gate = this.#gate;
    return {
      attachStateless: (sessionId, link) => target.attachStateless(sessionId, gate.attach(sessionId, link)),
      receive: (sessionId, msg) => {
        if (gate.admit(sessionId, msg)) target.receive(sessionId, msg);
      },
      close: (sessionId) => {
        gate.detach(sessionId);
        target.close(sessionId);
      },
      initializeResult: (params) => target.initializeResult(params),
    };
  }

  failPending(reason: string): void {
    this.#running?.backend.failPending(reason);
    this.#running?.pool.failPending(reason);
  }

  async stop(): Promise<void> {
    this.#isStopped = true;
    this.#probeAbort.abort();
    clearInterval(this.#idleTimer);
    const running = this.#running;
    this.#running = undefined;
    if (running !== undefined) await Promise.all([running.backend.stop(), running.pool.stop()]);
  }

  #ensureRunning(): Running {
    if (this.spec.isDisabled) throw unavailable(this.spec.name, 'disabled in the configuration');
    if (this.#fatal !== undefined) throw unavailable(this.spec.name, this.#fatal);
    if (this.#isStopped) throw unavailable(this.spec.name, 'stopping');
    this.#lastUsedMs = Date.now();
    return this.#running ?? this.#wake();
  }

  /** Starts the server (a remote: its era probe first, the backend holding messages until it is known). Single-flight by construction. */
  #wake(): Running {
    const log = this.log;
    const deps: BackendDeps = { ...this.#deps, spec: this.spec, log, sandbox: this.#sandbox?.run, eras: this.#eras };
    const starting = this.spec.lifecycle === 'lazy' ? startInternal(`start ${this.spec.name}`, { 'mcpproxy.server': this.spec.name }) : undefined;
    if (this.spec.remote !== undefined) {
      // A remote not reachable yet: its shared backend fails calls at once, naming why, until it is.
      const unreachable = (reason: string): void => running.backend instanceof SharedBackend ? running.backend.unreachable(reason) : undefined;
      const era = remoteEra(this.spec, log, this.#deps.config.maxMessageBytes, this.#probeAbort.signal, unreachable).then(
        (verdict) => {
          log.info('upstream protocol', verdict.era === 'modern' ? { era: 'modern', version: verdict.version } : { era: 'legacy', probe: this.spec.upstreamProtocol === 'legacy' ? 'off' : 'on' });
          return verdict;
        },
        (err: unknown): never => {
          starting?.end('start_failed');
          this.#cannotServe((err as Error).message);
          throw err;
        },
      );
      // The remote probe waits until the remote answers or the unit stops; the backends only ever see a resolved era.
      deps.era = new Promise<UpstreamEra>((resolve) => void era.then(resolve, () => {}));
    } else if (this.spec.upstreamProtocol === 'legacy') {
      log.info('upstream protocol', { era: 'legacy', probe: 'off' });
    }
    const changed = (): void => {
      if (starting !== undefined && running.backend.notReadyReason() === undefined) starting.end();
      this.#changed();
    };
    const shared = !this.spec.shared ? undefined
      : this.spec.replicas > 1 ? new ReplicaPool(deps, this.spec.replicas, changed) : new SharedBackend(deps, {}, changed);
    const pool = new StatelessPool(deps, shared);
    const backend = shared ?? (this.spec.childPer === 'principal' ? new PrincipalBackend(pool) : new IndependentBackend(deps));
    const running: Running = { backend, pool };
    this.#running = running;
    if (this.spec.lifecycle === 'lazy') {
      log.info('lazy server starting', { reason: 'first use' });
      this.#idleTimer = setInterval(() => this.#sleepIfIdle(Date.now()), IDLE_CHECK_MS);
      this.#idleTimer.unref();
    }
    this.#changed();
    return running;
  }

  /** Never mid-call: only with nothing in flight and no session that cannot re-open by itself. */
  #sleepIfIdle(nowMs: number): void {
    const running = this.#running;
    const idleMs = this.spec.idleTimeoutMs;
    if (running === undefined || idleMs <= 0 || nowMs - this.#lastUsedMs < idleMs) return;
    if (isPerCaller(running.backend) || !running.backend.canSleep || running.pool.size > 0) return;
    clearInterval(this.#idleTimer);
    this.#running = undefined;
    this.log.info('lazy server sleeping', { idleMs });
    running.backend.endSessions('server went to sleep (idle)');
    void Promise.all([running.backend.stop(), running.pool.stop()]).then(() => this.#changed());
  }

  /** The server can never be served as configured (a pinned `modern` server that is not one): the unit stops. */
  #cannotServe(reason: string): void {
    if (this.#fatal !== undefined) return;
    this.#fatal = reason;
    this.log.error('cannot serve the MCP server', { error: reason });
    // Told at once (failed is failed), not after its child is stopped.
    this.#changed();
    void this.stop().then(() => this.#changed());
  }

  #changed(): void {
    for (const listener of this.#stateListeners) listener();
  }
}

function unavailable(server: string, reason: string): ProxyError {
  return new ProxyError(503, RpcCode.serverError, `server ${server} unavailable: ${reason}`, { headers: { 'retry-after': '5' } });
}
