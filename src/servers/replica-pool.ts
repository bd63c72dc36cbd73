/**
 * `replicas: N` for a shared server: N identical children, each a SharedBackend with its own Hub.
 * Every session is attached to every replica; its stateful requests (subscriptions, log level, the
 * handshake's answer) go to its home replica (the one with the fewest sessions when it opened), and
 * calls that need no session state go to the least busy replica that is up. A replica that dies fails
 * only its own calls; the idempotent reads among them are retried once on another replica.
 */
import { RpcCode } from '../protocol/errors.ts';
import {
  errorResponse, isRequest, isResponse,
  type JsonObject, type JsonRpcId, type JsonRpcMessage, type JsonRpcRequest, type JsonRpcResponse,
} from '../protocol/message.ts';
import type { BackendDeps, ChildUsage } from './backend-deps.ts';
import { SharedBackend } from './shared-backend.ts';
import type { Backend, ClientLink, StatelessTarget } from './contract.ts';
import { RequestRenumbering } from './request-renumbering.ts';
import { pickedReplica } from '../trace/internal-spans.ts';

/** Requests that need no session state: any replica may serve them. */
const BALANCED = new Set(['tools/call', 'prompts/get', 'resources/read', 'tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'completion/complete']);
/** Reads that may run twice: retried once on another replica when theirs dies under them. */
const RETRYABLE = new Set(['prompts/get', 'resources/read', 'tools/list', 'prompts/list', 'resources/list', 'resources/templates/list']);
/** Ids of the handshake mirrored to the replicas other than home; their answers are not the client's. */
const MIRROR_PREFIX = '~replica-mirror-';

interface InFlight {
  replica: number;
  /** A copy for one retry, kept only for retryable reads (the Hub rewrites what it is given). */
  retry: JsonRpcRequest | undefined;
}

interface PoolSession {
  link: ClientLink;
  home: number;
  inFlight: Map<JsonRpcId, InFlight>;
  asks: RequestRenumbering<number>;
}

export interface ReplicaStatus {
  replica: number;
  pid: number | undefined;
  sessions: number;
  inFlight: number;
  restarts: number;
  up: boolean;
}

export class ReplicaPool implements Backend, StatelessTarget {
  #replicas: SharedBackend[];
  #sessions = new Map<string, PoolSession>();
  #homes: number[];
  #nextMirror = 1;

  constructor(deps: BackendDeps, count: number, changed: () => void) {
    this.#replicas = Array.from({ length: count }, (_, i) => new SharedBackend({ ...deps, log: deps.log.child({ replica: i + 1 }) }, {}, changed, `replica ${i + 1}`));
    this.#homes = new Array<number>(count).fill(0);
  }

  async open(sessionId: string, link: ClientLink): Promise<void> {
    this.#attach(sessionId, link, (replica, replicaLink) => replica.open(sessionId, replicaLink));
  }

  attachStateless(sessionId: string, link: ClientLink): void {
    this.#attach(sessionId, link, (replica, replicaLink) => replica.attachStateless(sessionId, replicaLink));
  }

  receive(sessionId: string, msg: JsonRpcMessage): void {
    const session = this.#sessions.get(sessionId);
    if (session === undefined) return;
    if (isResponse(msg)) {
      const replica = session.asks.answer(msg);
      if (replica !== undefined) this.#replicas[replica]!.receive(sessionId, msg);
      return;
    }
    if (!isRequest(msg)) {
      if (msg.method === 'notifications/cancelled') {
        const requestId = (msg.params as JsonObject | undefined)?.requestId as JsonRpcId;
        const entry = session.inFlight.get(requestId);
        session.inFlight.delete(requestId);
        if (entry !== undefined) this.#replicas[entry.replica]!.receive(sessionId, msg);
        return;
      }
      for (const replica of this.#replicas) replica.receive(sessionId, structuredClone(msg));
      return;
    }
    if (msg.method === 'initialize') this.#mirror(sessionId, session.home, msg);
    this.#send(sessionId, session, msg, BALANCED.has(msg.method) ? this.#leastBusy(session.home) : session.home);
  }

  close(sessionId: string): void {
    const session = this.#sessions.get(sessionId);
    if (session === undefined) return;
    this.#sessions.delete(sessionId);
    this.#homes[session.home]!--;
    for (const replica of this.#replicas) replica.close(sessionId);
  }

  async initializeResult(params: JsonObject): Promise<JsonObject> {
    // Stateless calls may land on any replica: each must have its handshake done.
    const results = await Promise.allSettled(this.#replicas.map((replica) => replica.initializeResult(params)));
    const ok = results.find((r): r is PromiseFulfilledResult<JsonObject> => r.status === 'fulfilled');
    if (ok !== undefined) return ok.value;
    throw (results[0] as PromiseRejectedResult).reason;
  }

  failPending(reason: string): void {
    for (const replica of this.#replicas) replica.failPending(reason);
  }

  notReadyReason(): string | undefined {
    const reasons = this.#replicas.map((replica) => replica.notReadyReason());
    return reasons.some((reason) => reason === undefined) ? undefined : `no replica is up: ${reasons[0]}`;
  }

  get childCount(): number {
    return this.#replicas.reduce((sum, replica) => sum + replica.childCount, 0);
  }

  get pendingCount(): number {
    return this.#replicas.reduce((sum, replica) => sum + replica.pendingCount, 0);
  }

  get pids(): number[] {
    return this.#replicas.flatMap((replica) => replica.pids);
  }

  get usage(): ChildUsage[] {
    return this.#replicas.flatMap((replica) => replica.usage);
  }

  get hasBeenUp(): boolean {
    return this.#replicas.some((replica) => replica.hasBeenUp);
  }

  get canSleep(): boolean {
    return this.#replicas.every((replica) => replica.canSleep);
  }

  get isIdle(): boolean {
    return this.#sessions.size === 0 && this.pendingCount === 0;
  }

  get replicas(): ReplicaStatus[] {
    return this.#replicas.map((replica, i) => ({
      replica: i + 1, pid: replica.pids[0], sessions: this.#homes[i]!, inFlight: replica.pendingCount, restarts: replica.restarts,
      up: replica.notReadyReason() === undefined,
    }));
  }

  endSessions(reason: string): void {
    for (const [sessionId, session] of [...this.#sessions]) {
      this.close(sessionId);
      session.link.end(reason);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.#replicas.map((replica) => replica.stop()));
  }

  #attach(sessionId: string, link: ClientLink, attach: (replica: SharedBackend, replicaLink: ClientLink) => unknown): void {
    const home = this.#fewestSessions();
    const session: PoolSession = { link, home, inFlight: new Map(), asks: new RequestRenumbering<number>() };
    this.#sessions.set(sessionId, session);
    this.#homes[home]!++;
    this.#replicas.forEach((replica, i) => attach(replica, this.#replicaLink(sessionId, session, i)));
  }

  /** What one replica says to one session: its answers checked against where calls went, its questions renumbered. */
  #replicaLink(sessionId: string, session: PoolSession, replica: number): ClientLink {
    return {
      isReconnectable: session.link.isReconnectable,
      end: () => {}, // the pool ends sessions itself (endSessions); a single replica never ends one
      deliver: (msg, relatedId) => {
        if (isRequest(msg)) {
          session.asks.outbound(replica, msg);
          return session.link.deliver(msg, relatedId);
        }
        if (!isResponse(msg)) return session.link.deliver(msg, relatedId);
        const entry = msg.id === null ? undefined : session.inFlight.get(msg.id);
        if (entry?.replica !== replica) return; // a mirrored handshake's answer, or a call already answered
        session.inFlight.delete(msg.id!);
        if (this.#retried(sessionId, session, replica, entry, msg)) return;
        session.link.deliver(msg, relatedId);
      },
    };
  }

  /** A retryable read failed because its replica went down: sent once more to another replica that is up. */
  #retried(sessionId: string, session: PoolSession, replica: number, entry: InFlight, res: JsonRpcResponse): boolean {
    if (entry.retry === undefined || res.error?.code !== RpcCode.serverError || this.#replicas[replica]!.notReadyReason() === undefined) return false;
    const other = this.#leastBusy(session.home, replica);
    if (other === replica) return false;
    this.#send(sessionId, session, entry.retry, other, false);
    return true;
  }

  #send(sessionId: string, session: PoolSession, req: JsonRpcRequest, replica: number, mayRetry = true): void {
    if (session.inFlight.has(req.id)) {
      return session.link.deliver(errorResponse(req.id, RpcCode.invalidRequest, 'Invalid Request: a request with this id is already in flight'), req.id);
    }
    const retry = mayRetry && RETRYABLE.has(req.method) && this.#replicas.length > 1 ? structuredClone(req) : undefined;
    session.inFlight.set(req.id, { replica, retry });
    pickedReplica(req, replica + 1);
    this.#replicas[replica]!.receive(sessionId, req);
  }

  /** The other replicas learn the session's handshake too (their answers are dropped), so any may serve it. */
  #mirror(sessionId: string, home: number, req: JsonRpcRequest): void {
    this.#replicas.forEach((replica, i) => {
      if (i !== home) replica.receive(sessionId, { ...structuredClone(req), id: `${MIRROR_PREFIX}${this.#nextMirror++}` });
    });
  }

  #fewestSessions(): number {
    return this.#pick((i) => this.#homes[i]!, 0);
  }

  /** The up replica with the fewest calls in flight (ties: `preferred`), other than `avoid`; `preferred` when none is up. */
  #leastBusy(preferred: number, avoid?: number): number {
    return this.#pick((i) => this.#replicas[i]!.pendingCount, preferred, avoid);
  }

  #pick(load: (i: number) => number, preferred: number, avoid?: number): number {
    let best: number | undefined;
    for (let i = 0; i < this.#replicas.length; i++) {
      if (i === avoid || this.#replicas[i]!.notReadyReason() !== undefined) continue;
      if (best === undefined || load(i) < load(best) || (load(i) === load(best) && i === preferred)) best = i;
    }
    return best ?? preferred;
  }
}
