/** Independent: a child and a Hub per session, started with that session's environment and stopped with it. */
import type { Backend, ClientLink } from './contract.ts';
import { Child, describeExit, type ChildEvents } from '../upstream/child.ts';
import { ProxyError, RpcCode } from '../protocol/errors.ts';
import { isResponse, type JsonRpcMessage } from '../protocol/message.ts';
import { Hub } from '../routing/hub.ts';
import type { UpstreamRoute } from '../upstream/upstream-route.ts';
import { RemoteSession } from '../upstream/remote/remote-session.ts';
import { remoteOptions } from './remote-member.ts';
import { beforeStart, checkChildBudget, reportBreach, LEGACY, childOptions, hubOutput, startSweep, upstreamRoute, type BackendDeps, type ChildUsage } from './backend-deps.ts';

interface IsolatedSession {
  child: Child | RemoteSession;
  route: UpstreamRoute;
  hub: Hub;
  secrets: string[];
}

export class IndependentBackend implements Backend {
  #deps: BackendDeps;
  #sessions = new Map<string, IsolatedSession>();
  #links = new Map<string, ClientLink>();
  #stopping = new Set<Promise<unknown>>();
  #sweep: NodeJS.Timeout;
  /**
   * Why the last child failed to start (not spawned, or exited before it answered anything), until a
   * child answers: what /readyz can say of a mode whose children come with their sessions.
   */
  #lastChildFailure: string | undefined;
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
    // A remote's era; for a stdio child, the turn of its start (detection happens on the child itself).
    const era = await beforeStart(this.#deps);
    if (this.#isStopped) throw new ProxyError(503, RpcCode.serverError, 'proxy shutting down');
    const log = this.#deps.log.child({ session: sessionId });
    for (const value of Object.values(env)) log.addSecret(value);
    let hub: Hub | undefined;
    const route = upstreamRoute(this.#deps, log, (msg) => hub?.fromChild(msg));
    // A remote member's session takes the child's place; `env` then holds the client's forwarded headers.
    let hasAnswered = false;
    const events: ChildEvents = {
      message: (msg) => {
        if (!hasAnswered && isResponse(msg)) {
          hasAnswered = true;
          this.#lastChildFailure = undefined;
        }
        route.receive(msg);
      },
      exit: (exit) => {
        route.childGone();
        const reason = `child ${describeExit(exit)}`;
        // Not stopped by the proxy (close() forgets the session first) and never answered: a failed start.
        if (!hasAnswered && this.#sessions.get(sessionId)?.child === child) this.#lastChildFailure = `${describeExit(exit)} before it answered`;
        if (hub !== undefined) reportBreach(this.#deps, exit, hub);
        hub?.childDown(reason);
        // The session cannot go on without its child: the client is told and starts a new one.
        if (this.#sessions.get(sessionId)?.child === child) this.#links.get(sessionId)?.end(reason);
      },
    };
    const { spec } = this.#deps;
    const child = spec.remote === undefined
      ? new Child(childOptions({ ...this.#deps, log }, env), events)
      : new RemoteSession(remoteOptions(this.#deps, era ?? LEGACY, log, env), events);
    const failed = await child.spawned;
    if (failed !== undefined) {
      route.childGone();
      for (const value of Object.values(env)) log.removeSecret(value);
      this.#lastChildFailure = describeExit(failed);
      throw new ProxyError(502, RpcCode.serverError, `the MCP server ${this.#lastChildFailure}`);
    }
    if (this.#isStopped) {
      // The proxy began shutting down while this child started: it must not outlive the proxy.
      void child.stop().then(() => { for (const value of Object.values(env)) log.removeSecret(value); });
      throw new ProxyError(503, RpcCode.serverError, 'proxy shutting down');
    }
    route.connect((msg) => child.send(msg), era);
    route.childUp();
    hub = new Hub(hubOutput(this.#deps, this.#links, (msg) => route.send(msg)), { cacheInitialize: false, now: Date.now });
    hub.addSession(sessionId);
    this.#links.set(sessionId, link);
    this.#sessions.set(sessionId, { child, route, hub, secrets: Object.values(env) });
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
    session.route.close();
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
    return this.#lastChildFailure === undefined ? undefined : `the last child ${this.#lastChildFailure}`;
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
