/** What the remote upstream needs from each way of reaching a remote server (Streamable HTTP, legacy SSE, stateless). */
import type { JsonRpcMessage } from '../../protocol/message.ts';
import type { RemoteTarget } from './http-call.ts';

export interface TransportEvents {
  message(msg: JsonRpcMessage): void;
  /**
   * The server can no longer be reached this way (refused, TLS, 5xx, its session gone, its stream
   * dead): the owner fails what is in flight and reconnects. Told at most once per transport.
   */
  lost(reason: string): void;
}

export interface TransportOptions {
  target: RemoteTarget;
  /** How long a request's answer may take to begin (the member's request timeout). */
  requestTimeoutMs: number;
  maxMessageBytes: number;
}

export interface RemoteTransport {
  /** Resolves once the server can take messages; rejects with a RemoteError naming why not. */
  connect(): Promise<void>;
  /** Hands one message on; false once the transport is closed or lost. */
  send(msg: JsonRpcMessage): boolean;
  /** Ends the session at the server where the transport has one (DELETE), and every stream. Idempotent. */
  close(): Promise<void>;
}

/** How many times a dropped answer stream is resumed with Last-Event-ID before the call is given up. */
export const MAX_RESUMES = 3;
/** Wait before a resume when the server sent no `retry:`. */
export const DEFAULT_RETRY_MS = 200;
