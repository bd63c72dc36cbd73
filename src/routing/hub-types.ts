/** The Hub's boundary (what it says, and how it is set up) and the state it keeps per call and per session. */
import type { JsonObject, JsonRpcId, JsonRpcMessage, JsonRpcRequest, JsonRpcResponse } from '../protocol/message.ts';

export interface HubOutput {
  /** False when the child cannot take the message (not running, stdin queue full). */
  toChild(msg: JsonRpcMessage): boolean;
  /**
   * A message for one session. `relatedId` is the client request it belongs to (its reply, its progress,
   * a server request made while serving it), or undefined for unsolicited messages.
   */
  toSession(sessionId: string, msg: JsonRpcMessage, relatedId: JsonRpcId | undefined): void;
  /** Something was dropped or refused; for a debug log line. */
  note?(event: string, fields: Record<string, string | number>): void;
  /** A client's call was answered (by the child or, on failure, by the hub); `errorMessage` is the error's own text. */
  callDone?(method: string, outcome: 'result' | 'error', durationMs: number, errorMessage?: string): void;
  /** Shared mode: the child's InitializeResult is known (first initialize, or after a restart). */
  initialized?(result: JsonObject): void;
}

export interface HubOptions {
  /** Shared mode: initialize the child once and answer later `initialize` requests from the cache. */
  cacheInitialize: boolean;
  /**
   * Shared mode: capabilities the proxy relays to a call's client, added to those of the client whose
   * handshake the child keeps, so what a shared server offers (tools it lists by capability) does not
   * depend on which client came first. A client that lacks one answers that request with its own error.
   */
  relayCapabilities?: JsonObject;
  now(): number;
}


/** A client request waiting for the child's reply, or the hub's own request (sessionId undefined). */
export interface Call {
  sessionId: string | undefined;
  clientId: JsonRpcId;
  method: string;
  startedMs: number;
  /** The client's own progress token, when it sent one (the child sees the upstream id instead). */
  clientToken: JsonRpcId | undefined;
  /** For an `initialize`: the params, kept for re-initializing a restarted child. */
  initParams?: JsonObject;
  /** For the hub's own requests: what to do with the reply. */
  onReply?: (res: JsonRpcResponse) => void;
}

export interface SessionState {
  isInitialized: boolean;
  /** A 2026-07-28 caller: no handshake, and a server request may reach it only when unambiguous. */
  isStateless: boolean;
  /** Client id → upstream id of its calls in flight, newest last. */
  inFlight: Map<JsonRpcId, number> | undefined;
  /** Proxy ids of server-to-client requests this session has yet to answer. */
  serverRequests: Set<number> | undefined;
  lastActiveMs: number;
}

export type InitState =
  | { state: 'none' }
  | {
    state: 'pending'; upstreamId: number; waiting: Array<{ sessionId: string; request: JsonRpcRequest }>;
    /** The version the client whose handshake this is asked for (its answer is negotiated from the result). */
    requested?: unknown;
  }
  | { state: 'ready'; params: JsonObject; result: JsonObject };
