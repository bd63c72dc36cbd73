/** Downstream client sessions: ids, the table transports look them up in, the bound on their number. */
import { randomUUID } from 'node:crypto';
import { ProxyError, RpcCode } from '../protocol/errors.ts';
import { mayUseSession, type Principal } from '../identity/principal.ts';

export type TransportName = 'sse' | 'streamable' | 'stateless';

export interface DownstreamSession {
  readonly id: string;
  readonly transport: TransportName;
  /** Who opened it: only they may use it. */
  readonly principal: Principal;
  /** The protocol revision the session speaks, where the transport alone does not say (Streamable HTTP). */
  readonly protocolVersion?: string;
  /** When the client last sent something, for sessions that end when idle. */
  readonly lastActiveMs?: number;
  /** Ends the session: streams closed, backend told. Idempotent. */
  close(reason: string): void;
}

/** Sessions of one identity; `id` is unique across kinds, `principal` is the name people read. */
export interface PrincipalSessions {
  id: string;
  principal: string;
  kind: string;
  sessions: number;
}

export interface SessionSummary {
  byEra: Record<string, number>;
  oldestIdleMs: number | undefined;
  principals: PrincipalSessions[];
}

const RETRY_AFTER_S = '5';
const ERA_OF_TRANSPORT: Partial<Record<TransportName, string>> = { sse: '2024-11-05', stateless: '2026-07-28' };

export class SessionTable {
  #sessions = new Map<string, DownstreamSession>();
  #reserved = 0;
  #maxSessions: number;
  #instanceId: string | undefined;

  constructor(maxSessions: number, instanceId: string | undefined) {
    this.#maxSessions = maxSessions;
    this.#instanceId = instanceId;
  }

  /**
   * A fresh session id: a random UUID (the capability to post to the session), prefixed with the
   * instance id when one is set so a load balancer can route a session back to its instance.
   */
  newId(): string {
    return this.#instanceId === undefined ? randomUUID() : `${this.#instanceId}.${randomUUID()}`;
  }

  /** Holds a place for a session being opened; 503 with Retry-After when full. Pair with add() or unreserve(). */
  reserve(): void {
    if (this.#maxSessions > 0 && this.#sessions.size + this.#reserved >= this.#maxSessions) {
      throw new ProxyError(503, RpcCode.serverError, `too many sessions (limit ${this.#maxSessions}); try again later`, {
        headers: { 'retry-after': RETRY_AFTER_S },
      });
    }
    this.#reserved++;
  }

  unreserve(): void {
    this.#reserved--;
  }

  add(session: DownstreamSession): void {
    this.#reserved--;
    this.#sessions.set(session.id, session);
  }

  /** The session `id` if `principal` may use it (see mayUseSession); another principal's is as unknown. */
  get(id: string, principal: Principal | undefined): DownstreamSession | undefined {
    const session = this.#sessions.get(id);
    return session !== undefined && mayUseSession(session.principal, principal) ? session : undefined;
  }

  /** Ends every session `principal` opened (its key was removed). */
  closeOwnedBy(principalId: string, reason: string): void {
    for (const session of [...this.#sessions.values()]) if (session.principal.id === principalId) session.close(reason);
  }

  /** Removes the entry only if it still is `session` (a closed session must not remove a newer one). */
  delete(session: DownstreamSession): void {
    if (this.#sessions.get(session.id) === session) this.#sessions.delete(session.id);
  }

  countByTransport(): Record<TransportName, number> {
    const counts: Record<TransportName, number> = { sse: 0, streamable: 0, stateless: 0 };
    for (const session of this.#sessions.values()) counts[session.transport]++;
    return counts;
  }

  /**
   * Sessions by protocol era (the transport fixes it for legacy SSE and stateless callers, the
   * handshake for Streamable HTTP) and how long the longest-idle one has been quiet.
   */
  summary(nowMs: number): SessionSummary {
    const byEra: Record<string, number> = {};
    const byPrincipal = new Map<string, PrincipalSessions>();
    let oldestIdleMs: number | undefined;
    for (const session of this.#sessions.values()) {
      const era = ERA_OF_TRANSPORT[session.transport] ?? session.protocolVersion ?? 'unknown';
      byEra[era] = (byEra[era] ?? 0) + 1;
      if (session.lastActiveMs !== undefined) oldestIdleMs = Math.max(oldestIdleMs ?? 0, nowMs - session.lastActiveMs);
      const { id, name, kind } = session.principal;
      // Without identities every session is the same anonymous caller: nothing to tell apart.
      if (kind === 'none') continue;
      const entry = byPrincipal.get(id) ?? { id, principal: name, kind, sessions: 0 };
      entry.sessions++;
      byPrincipal.set(id, entry);
    }
    return { byEra, oldestIdleMs, principals: [...byPrincipal.values()] };
  }

  get size(): number {
    return this.#sessions.size;
  }

  closeAll(reason: string): void {
    for (const session of [...this.#sessions.values()]) session.close(reason);
  }
}
