/**
 * One request of the facade's own to a StatelessTarget, the way a 2026-07-28 caller is served: an
 * attached session per request, closed once its answer is in. The server may not ask this caller
 * anything (it has no client to ask): `roots/list` gets no roots, other requests method-not-found.
 */
import { randomUUID } from 'node:crypto';
import { RpcCode } from '../../protocol/errors.ts';
import {
  errorResponse, isRequest, isResponse, resultResponse, type JsonObject, type JsonRpcMessage, type JsonRpcResponse,
} from '../../protocol/message.ts';
import type { StatelessTarget } from '../../servers/contract.ts';
import { gatedLink, passInbound, type SessionGate } from '../session-gate.ts';

/** The id of the one request on each attached session (sessions are never shared, so it never collides). */
const REQUEST_ID = 1;

export interface PendingRequest {
  /** The answer; a JSON-RPC error when the server went away or the request was cancelled. Never rejects. */
  readonly reply: Promise<JsonRpcResponse>;
  /** The caller left: the call is cancelled at the server (the session closes). Idempotent. */
  cancel(reason: string): void;
}

/** Who calls, as every transport's calls pass it: the principal's tool rules and audit, per request. */
export type GateFor = (sessionId: string) => SessionGate;

/**
 * Sends `method` with `params` through the caller's gate; `onProgress` (when given) gets each progress
 * notification's params. Throws the gate's ProxyError (403 step-up) before anything reaches the server.
 */
export function sendRequest(
  target: StatelessTarget, gateFor: GateFor, method: string, params: JsonObject, onProgress?: (progress: JsonObject) => void,
): PendingRequest {
  const sessionId = `~http-${randomUUID()}`;
  const gate = gateFor(sessionId);
  let settle!: (res: JsonRpcResponse) => void;
  let isSettled = false;
  const reply = new Promise<JsonRpcResponse>((resolve) => {
    settle = (res) => {
      if (isSettled) return;
      isSettled = true;
      target.close(sessionId);
      resolve(res);
    };
  });
  const link = gatedLink(gate, {
    deliver: (msg: JsonRpcMessage) => {
      if (isResponse(msg)) {
        if (msg.id === REQUEST_ID) settle(msg);
      } else if (isRequest(msg)) {
        target.receive(sessionId, msg.method === 'roots/list'
          ? resultResponse(msg.id, { roots: [] })
          : errorResponse(msg.id, RpcCode.methodNotFound, `${msg.method} cannot be relayed to a plain HTTP caller`));
      } else if (msg.method === 'notifications/progress' && onProgress !== undefined) {
        onProgress((msg.params ?? {}) as JsonObject);
      }
    },
    end: (reason) => settle(errorResponse(REQUEST_ID, RpcCode.serverError, reason)),
  });
  target.attachStateless(sessionId, link);
  const sent = onProgress === undefined ? params : { ...params, _meta: { ...(params._meta as JsonObject | undefined), progressToken: REQUEST_ID } };
  try {
    passInbound(gate, link, { jsonrpc: '2.0', id: REQUEST_ID, method, params: sent }, (msg) => target.receive(sessionId, msg));
  } catch (err) {
    settle(errorResponse(REQUEST_ID, RpcCode.serverError, 'refused'));
    throw err;
  }
  return { reply, cancel: (reason) => settle(errorResponse(REQUEST_ID, RpcCode.serverError, reason)) };
}
