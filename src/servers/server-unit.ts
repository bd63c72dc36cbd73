/**
 * One configured MCP server as a unit: its spec, the era probe, its backend (one shared child or a
 * child per session), the pool that serves its stateless callers, and its state. Transports reach it
 * through Backend and StatelessSource; a lazy server starts on the first session or call that needs it
 * and goes back to sleep after its idle timeout with nothing in flight.
 */
import { startInternal } from '../trace/internal-spans.ts';
import type { ServerSpec } from '../config/server-spec.ts';
import { VERSION } from '../config/version.ts';
import type { Logger } from '../observe/log.ts';
import { ProxyError, RpcCode } from '../protocol/errors.ts';
import type { JsonRpcMessage } from '../protocol/message.ts';
import { detectUpstreamProtocol, type UpstreamEra } from '../upstream/era-probe.ts';
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
import { childEnv, sandboxForServer, type ServerSandbox } from './sandbox-setup.ts';
import { launchSandboxed, type SandboxRun } from '../upstream/sandbox/launch.ts';

export type ServerState = 'starting' | 'ready' | 'sleeping' | 'restarting' | 'failed' | 'disabled';

/**
 * How long the startup probe waits for `server/discover`; a silent child is legacy after this. Most
 * legacy servers answer a pre-initialize request with an error at once; a silent one delays the first
 * messages by this much (`upstreamProtocol: legacy` skips the probe).
 */
const PROBE_TIMEOUT_MS = 5_000;
const IDLE_CHECK_MS = 1_000;

/** The child's era per upstreamProtocol: legacy without a probe; auto and modern probe a sibling (a remote: a POST). */
async function upstreamEra(
  spec: ServerSpec, log: Logger, sandbox: SandboxRun | undefined, maxMessageBytes: number, signal: AbortSignal, onUnreachable: (reason: string) => void,
): Promise<UpstreamEra> {
  if (spec.remote !== undefined) return remoteEra(spec, log, maxMessageBytes, signal, onUnreachable);
  if (spec.upstreamProtocol === 'legacy') return { era: 'legacy' };
  // The probe runs the same third-party code as the child: it gets the same sandbox.
  const launch = sandbox === undefined ? undefined : launchSandboxed(sandbox, spec.command, spec.args);
  const era = await detectUpstreamProtocol({
    command: launch?.command ?? spec.command, args: launch?.args ?? spec.args, cwd: spec.cwd, env: childEnv(sandbox, spec, {}),
    timeoutMs: Math.min(PROBE_TIMEOUT_MS, spec.requestTimeoutMs), log, clientVersion: VERSION,
  }).finally(() => {
    launch?.cgroup?.kill();
    void launch?.cgroup?.remove();
  });
  if (spec.upstreamProtocol === 'modern' && era.era !== 'modern') {
    throw new Error('upstream protocol modern: the MCP server did not answer server/discover as a 2026-07-28 server');
  }
  return era;
}

type Running = { backend: SharedBackend | ReplicaPool | IndependentBackend | PrincipalBackend; pool: StatelessPool; era: Promise<UpstreamEra> };

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
  /** Set when the era probe failed or the sandbox cannot be set up: the server cannot be served until it is reconfigured. */
  #fatal: string | undefined;
  #lastUsedMs = Date.now();
  #idleTimer: NodeJS.Timeout | undefined;
  #stateListeners = new Set<() => void>();
  #isStopped = false;
  /** The `tools` filter on this server's own sessions and callers; undefined when it has none. */
  #gate: ToolGate | undefined;
  /** Ends a remote member's wait for its server when the unit stops. */
  #probeAbort = new AbortController();

  constructor(spec: ServerSpec, deps: Omit<BackendDeps, 'spec' | 'era' | 'log'> & { log: Logger }) {
    this.spec = spec;
    this.log = spec.name === 'default' ? deps.log : deps.log.child({ server: spec.name });
    this.#deps = spec.remote === undefined ? deps : { ...deps, paramHeaders: paramHeaderRegistry(this.log) };
    const matcher = matcherOf(spec.filter);
    if (matcher !== undefined) this.#gate = new ToolGate(matcher);
    if (!spec.isDisabled) {
      this.#sandbox = sandboxForServer(spec, deps.sandboxHost?.facts, deps.sandboxHost?.hidden ?? [], this.log);
      this.#fatal = this.#sandbox.fatal;
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
      return reason === 'starting' || reason.startsWith('detecting') ? 'starting' : 'failed';
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
      await running.backend.open(sessionId, this.#gate?.attach(sessionId, link) ?? link, env, undefined, principalId);
    } catch (err) {
      this.#gate?.detach(sessionId);
      throw err;
    }
  }

  receive(sessionId: string, msg: JsonRpcMessage): void {
    this.#lastUsedMs = Date.now();
    if (this.#gate?.admit(sessionId, msg) === false) return;
    this.#running?.backend.receive(sessionId, msg);
  }

  close(sessionId: string): void {
    this.#gate?.detach(sessionId);
    this.#running?.backend.close(sessionId);
  }

  /** StatelessSource: the shared backend, or a pooled one per distinct environment (independent mode). */
  get(env: Record<string, string>, principalId?: string): StatelessTarget {
    this.#lastUsedMs = Date.now();
    const target = this.#ensureRunning().pool.get(env, principalId);
    const gate = this.#gate;
    if (gate === undefined) return target;
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

  /** Starts the server: the era probe first, the backend holding messages until it is known. Single-flight by construction. */
  #wake(): Running {
    const log = this.log;
    const sandbox = this.#sandbox?.run;
    // A remote not reachable yet: its shared backend fails calls at once, naming why, until it is.
    const unreachable = (reason: string): void => running.backend instanceof SharedBackend ? running.backend.unreachable(reason) : undefined;
    const era = upstreamEra(this.spec, log, sandbox, this.#deps.config.maxMessageBytes, this.#probeAbort.signal, unreachable).then(
      (verdict) => {
        log.info('upstream protocol', verdict.era === 'modern' ? { era: 'modern', version: verdict.version } : { era: 'legacy', probe: this.spec.upstreamProtocol === 'legacy' ? 'off' : 'on' });
        return verdict;
      },
      (err: unknown): never => {
        this.#fatal = (err as Error).message;
        log.error('cannot serve the MCP server', { error: this.#fatal });
        void this.stop().then(() => this.#changed());
        throw err;
      },
    );
    // A rejected era stops the unit above; the backends only ever see a resolved one.
    const held = new Promise<UpstreamEra>((resolve) => void era.then(resolve, () => {}));
    const deps: BackendDeps = { ...this.#deps, spec: this.spec, log, era: held, sandbox };
    const starting = this.spec.lifecycle === 'lazy' ? startInternal(`start ${this.spec.name}`, { 'mcpproxy.server': this.spec.name }) : undefined;
    era.catch(() => starting?.end('start_failed'));
    const changed = (): void => {
      if (starting !== undefined && running.backend.notReadyReason() === undefined) starting.end();
      this.#changed();
    };
    const shared = !this.spec.shared ? undefined
      : this.spec.replicas > 1 ? new ReplicaPool(deps, this.spec.replicas, changed) : new SharedBackend(deps, {}, changed);
    const pool = new StatelessPool(deps, shared);
    const backend = shared ?? (this.spec.childPer === 'principal' ? new PrincipalBackend(pool) : new IndependentBackend(deps));
    const running: Running = { backend, pool, era };
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

  #changed(): void {
    for (const listener of this.#stateListeners) listener();
  }
}

function unavailable(server: string, reason: string): ProxyError {
  return new ProxyError(503, RpcCode.serverError, `server ${server} unavailable: ${reason}`, { headers: { 'retry-after': '5' } });
}
