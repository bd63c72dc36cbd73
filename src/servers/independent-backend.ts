/** Independent: a child and a Hub per session, started with that session's environment and stopped with it. */
import type { Backend, ClientLink } from './contract.ts';
import { Child, describeExit, type ChildEvents } from '../upstream/child.ts';
import { ProxyError, RpcCode } from '../protocol/errors.ts';
import type { JsonRpcMessage } from '../protocol/message.ts';
import { UpstreamRoute } from '../upstream/upstream-route.ts';
import { Hub } from '../routing/hub.ts';
import { RemoteSession } from '../upstream/remote/remote-session.ts';
import { remoteOptions } from './remote-member.ts';
import { checkChildBudget, reportBreach, LEGACY, childOptions, hubOutput, startSweep, type BackendDeps, type ChildUsage } from './backend-deps.ts';

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
    const route = new UpstreamRoute((msg) => hub?.fromChild(msg), this.#deps.spec);
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
    const { spec } = this.#deps;
    const child = spec.remote === undefined
      ? new Child(childOptions({ ...this.#deps, log }, env), events)
      : new RemoteSession(remoteOptions(this.#deps, era, log, env), events);
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
