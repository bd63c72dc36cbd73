/**
 * The one `subscriptions/listen` the modern-child adapter holds at its child for the Hub: opened once
 * the Hub's handshake is done (or on the next send when the child could not take it), reopened when
 * the resource subscriptions change or the child ends it gracefully (but not at once after a short
 * life: no storms), and given up when the child refuses it. Pure: time comes from `now()`.
 */
import { isObject, type JsonObject, type JsonRpcMessage } from '../protocol/message.ts';

/** A listen that ends sooner than this after opening is reopened on the next send, not at once (no storms). */
export const LISTEN_REOPEN_MIN_MS = 1000;
const LISTEN_PREFIX = 'mcpproxy-listen-';

type ListenState =
  | { state: 'off' }
  /** Wanted (the Hub initialized) but not open: the next send opens it. */
  | { state: 'pending' }
  | { state: 'open'; id: string; openedMs: number };

export interface ListenOptions {
  toChild(msg: JsonRpcMessage): boolean;
  /** The child's DiscoverResult now (which notifications it can send). */
  discover(): JsonObject;
  /** The `_meta` envelope the adapter puts on its requests. */
  envelope(): JsonObject;
  now(): number;
}

export class ChildListen {
  #opts: ListenOptions;
  #state: ListenState = { state: 'off' };
  #subscriptions = new Set<string>();
  #nextId = 1;

  constructor(opts: ListenOptions) {
    this.#opts = opts;
  }

  /** The open listen's id at the child, if any. */
  get id(): string | undefined {
    return this.#state.state === 'open' ? this.#state.id : undefined;
  }

  /** Whether a message id or a `subscriptionId` names one of this adapter's listens. */
  static owns(id: unknown): id is string {
    return typeof id === 'string' && id.startsWith(LISTEN_PREFIX);
  }

  /** The Hub finished its handshake: from now on the proxy listens. */
  want(): void {
    if (this.#state.state !== 'off') return;
    this.#state = { state: 'pending' };
    this.#open();
  }

  /** Before each send: a listen the child could not take yet is opened now. */
  retryPending(): void {
    if (this.#state.state === 'pending') this.#open();
  }

  /** The child restarted: a listen that was wanted is opened again. */
  restart(): void {
    if (this.#state.state === 'off') return;
    this.#state = { state: 'pending' };
    this.#open();
  }

  /** A resource (un)subscription: a changed filter means the listen is cancelled and opened anew. */
  subscribe(uri: string, isSubscribe: boolean): void {
    const changed = isSubscribe !== this.#subscriptions.has(uri);
    if (isSubscribe) this.#subscriptions.add(uri);
    else this.#subscriptions.delete(uri);
    if (!changed || this.#state.state !== 'open') return;
    this.#opts.toChild({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: this.#state.id, reason: 'subscriptions changed' } });
    this.#open();
  }

  /** The child ended a listen. Ours is reopened, at once unless it just opened; an error stops it. */
  ended(id: string, isGraceful: boolean): void {
    const listen = this.#state;
    if (listen.state !== 'open' || listen.id !== id) return; // an old listen's late end
    if (!isGraceful) {
      this.#state = { state: 'off' }; // e.g. -32601: reopening would only fail again
      return;
    }
    this.#state = { state: 'pending' };
    if (this.#opts.now() - listen.openedMs >= LISTEN_REOPEN_MIN_MS) this.#open();
  }

  #open(): void {
    const discover = this.#opts.discover();
    const capabilities = isObject(discover.capabilities) ? discover.capabilities : {};
    const notifications: JsonObject = {};
    if (capabilities.tools !== undefined) notifications.toolsListChanged = true;
    if (capabilities.prompts !== undefined) notifications.promptsListChanged = true;
    if (capabilities.resources !== undefined) notifications.resourcesListChanged = true;
    if (this.#subscriptions.size > 0) notifications.resourceSubscriptions = [...this.#subscriptions];
    const id = `${LISTEN_PREFIX}${this.#nextId++}`;
    const sent = this.#opts.toChild({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params: { notifications, _meta: this.#opts.envelope() } });
    this.#state = sent ? { state: 'open', id, openedMs: this.#opts.now() } : { state: 'pending' };
  }
}
