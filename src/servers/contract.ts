/**
 * The contract between what faces clients and what serves them. Transports speak to a Backend (a
 * server unit, or the aggregate of several); stateless 2026-07-28 callers reach a StatelessTarget.
 * The aggregate speaks to its members through these same interfaces.
 */
import type { JsonObject, JsonRpcId, JsonRpcMessage } from '../protocol/message.ts';

/** How a backend reaches one client session; implemented by each transport (and by the aggregate, per member). */
export interface ClientLink {
  /** A message for the client; `relatedId` is the client request it belongs to, if any. */
  deliver(msg: JsonRpcMessage, relatedId: JsonRpcId | undefined): void;
  /** The backend ended the session (its child exited): the transport closes its streams. */
  end(reason: string): void;
  /** The link re-opens its session by itself when ended (the aggregate): an idle lazy server may stop under it. */
  readonly isReconnectable?: boolean;
}

export interface Backend {
  /**
   * Attaches a session. Rejects with a ProxyError when the session cannot be served (its child did not
   * start). `scope`: the servers an aggregate session is narrowed to (`?servers=`); one server ignores it.
   * `principalId`: who opened it, for a server that runs one child per principal.
   */
  open(sessionId: string, link: ClientLink, env: Record<string, string>, scope?: string[], principalId?: string): Promise<void>;
  /** A message from the session's client. */
  receive(sessionId: string, msg: JsonRpcMessage): void;
  /** The session ended; in-flight calls are cancelled (and in independent mode its child stops). */
  close(sessionId: string): void;
  /** Answers every call in flight with an error (shutdown: their time is up). */
  failPending(reason: string): void;
  /** Why the backend cannot serve now, or undefined when it can. */
  notReadyReason(): string | undefined;
  readonly childCount: number;
  readonly pendingCount: number;
  /** Each running child's CPU seconds and memory (a unit's; the aggregate reports none of its own). */
  readonly usage?: ReadonlyArray<{ pid: number; cpuSeconds: number; rssBytes: number }>;
  /** Stops every child (stdin EOF → SIGTERM → SIGKILL to the process group). */
  stop(): Promise<void>;
}

/** What serves 2026-07-28 callers: no handshake of their own, one attached "session" per call or listen stream. */
export interface StatelessTarget {
  /** Attaches a caller with no handshake of its own (a 2026-07-28 request or listen stream). */
  attachStateless(sessionId: string, link: ClientLink): void;
  receive(sessionId: string, msg: JsonRpcMessage): void;
  close(sessionId: string): void;
  /** The server's InitializeResult (the proxy initializes with `params` if no client has); 503 when unavailable. */
  initializeResult(params: JsonObject): Promise<JsonObject>;
}

/** Which StatelessTarget serves a caller with this (already filtered) environment and principal. */
export interface StatelessSource {
  get(env: Record<string, string>, principalId?: string): StatelessTarget;
  failPending(reason: string): void;
  stop(): Promise<void>;
}
