/**
 * `subscriptions/listen` for a legacy child: the proxy is the listener. It acknowledges the subset of
 * the filter the child can honour, subscribes the requested resources at the child (ref-counted by the
 * hub), and forwards matching notifications tagged with the listen request's id as subscriptionId.
 * The listen request passes its caller's gate like any other: one audit line when the stream ends
 * (`result` when the server ends it, `cancelled` when the client goes). Nothing on the stream names a
 * tool (list_changed carries no names; the list the client then reads is filtered by --allow-tools).
 */
import type { ServerResponse } from 'node:http';
import type { ProxyContext } from '../context.ts';
import { SseWriter } from '../../http/sse-writer.ts';
import { isObject, isRequest, isResponse, resultResponse, type JsonObject, type JsonRpcMessage, type JsonRpcRequest } from '../../protocol/message.ts';
import type { ClientLink, StatelessTarget } from '../../servers/contract.ts';
import { errorResponse } from '../../protocol/message.ts';
import { RpcCode } from '../../protocol/errors.ts';
import { SUBSCRIPTION_ID_KEY } from '../../protocol/meta-keys.ts';
import type { SessionGate } from '../session-gate.ts';

/** The stream's attachment on the server and the gate of the caller who opened it. */
export interface ListenCaller {
  sessionId: string;
  gate: SessionGate;
}

/** Filter flag → the legacy notification it selects, and the child capability that makes it possible. */
const LIST_FILTERS = [
  { flag: 'toolsListChanged', method: 'notifications/tools/list_changed', capability: 'tools' },
  { flag: 'promptsListChanged', method: 'notifications/prompts/list_changed', capability: 'prompts' },
  { flag: 'resourcesListChanged', method: 'notifications/resources/list_changed', capability: 'resources' },
] as const;

export class ListenStream implements ClientLink {
  readonly sessionId: string;
  #gate: SessionGate;
  #backend: StatelessTarget;
  #listenId: JsonRpcRequest['id'];
  #writer: SseWriter;
  #methods = new Set<string>();
  #uris = new Set<string>();
  #onEnd = new Set<() => void>();
  #isEnded = false;

  constructor(backend: StatelessTarget, caller: ListenCaller, req: JsonRpcRequest, res: ServerResponse, init: JsonObject, ctx: ProxyContext) {
    this.sessionId = caller.sessionId;
    this.#gate = caller.gate;
    this.#gate.inbound(req); // starts its audit; only tools/call can be refused
    this.#backend = backend;
    this.#listenId = req.id;
    const wanted = isObject(req.params) && isObject(req.params.notifications) ? req.params.notifications : {};
    const capabilities = isObject(init.capabilities) ? init.capabilities : {};
    const acknowledged: JsonObject = {};
    for (const { flag, method, capability } of LIST_FILTERS) {
      const cap = capabilities[capability];
      if (wanted[flag] === true && isObject(cap) && cap.listChanged === true) {
        acknowledged[flag] = true;
        this.#methods.add(method);
      }
    }
    const resources = capabilities.resources;
    if (Array.isArray(wanted.resourceSubscriptions) && isObject(resources) && resources.subscribe === true) {
      for (const uri of wanted.resourceSubscriptions) if (typeof uri === 'string') this.#uris.add(uri);
      acknowledged.resourceSubscriptions = [...this.#uris];
    }
    this.#writer = new SseWriter(res, ctx.config.maxStreamBufferBytes);
    ctx.heartbeat.add(this.#writer);
    this.#writer.onClose(() => this.#close());
    this.#send({ jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { notifications: acknowledged, _meta: this.#tag() } });
    backend.attachStateless(this.sessionId, this);
    let n = 0;
    for (const uri of this.#uris) {
      backend.receive(this.sessionId, { jsonrpc: '2.0', id: `${this.sessionId}-sub-${++n}`, method: 'resources/subscribe', params: { uri } });
    }
  }

  onEnd(listener: () => void): void {
    this.#onEnd.add(listener);
  }

  deliver(msg: JsonRpcMessage): void {
    if (isResponse(msg)) return; // answers to the proxy's own subscribe requests
    if (isRequest(msg)) {
      // Nothing of this caller is in flight; a child request cannot be answered through a listen stream.
      const answer = msg.method === 'roots/list' ? resultResponse(msg.id, { roots: [] }) : errorResponse(msg.id, RpcCode.methodNotFound, `${msg.method} cannot be relayed to a 2026-07-28 client`);
      this.#backend.receive(this.sessionId, answer);
      return;
    }
    const params = isObject(msg.params) ? msg.params : {};
    const isWanted = this.#methods.has(msg.method) || (msg.method === 'notifications/resources/updated' && this.#uris.has(params.uri as string));
    if (!isWanted) return;
    this.#send({ ...msg, params: { ...params, _meta: { ...(isObject(params._meta) ? params._meta : {}), ...this.#tag() } } });
  }

  end(): void {
    // Graceful end (spec): a complete result carrying the subscription id, then the stream closes.
    if (!this.#isEnded) this.#send(this.#gate.outbound(resultResponse(this.#listenId, { resultType: 'complete', _meta: this.#tag() })));
    this.#writer.end();
    this.#close();
  }

  #tag(): JsonObject {
    return { [SUBSCRIPTION_ID_KEY]: this.#listenId };
  }

  #send(msg: JsonRpcMessage): void {
    this.#writer.send(JSON.stringify(msg));
  }

  #close(): void {
    if (this.#isEnded) return;
    this.#isEnded = true;
    this.#gate.end(); // a client that left: its listen request is audited as cancelled
    this.#backend.close(this.sessionId);
    for (const listener of this.#onEnd) listener();
  }
}
