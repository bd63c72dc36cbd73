/** What the transports talk to: one shared child for every session, or one child per session. */
import type { JsonRpcMessage } from './jsonrpc/message.ts';
import type { ClientLink } from './session.ts';

export interface Backend {
  /** Attaches a session. Rejects with a ProxyError when the session cannot be served (its child did not start). */
  open(sessionId: string, link: ClientLink, env: Record<string, string>): Promise<void>;
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
  /** Stops every child (stdin EOF → SIGTERM → SIGKILL to the process group). */
  stop(): Promise<void>;
}
