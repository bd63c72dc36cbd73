/**
 * The path between a Hub and its child. A legacy child is written to directly; a modern one through a
 * ModernChildAdapter. Until the child's era is known (the probe runs while the proxy already listens),
 * what the Hub sends waits here, bounded.
 */
import { isObject, isRequest, type JsonRpcMessage } from '../protocol/message.ts';
import { LOG_LEVEL_KEY } from '../protocol/meta-keys.ts';
import type { UpstreamEra } from './era-probe.ts';
import { ModernChildAdapter } from './modern-child.ts';

/** Messages held while the era is unknown; past it the Hub is told the child cannot take more. */
const MAX_QUEUED_MESSAGES = 1000;

export class UpstreamRoute {
  #toHub: (msg: JsonRpcMessage) => void;
  #toChild: ((msg: JsonRpcMessage) => boolean) | undefined;
  #adapter: ModernChildAdapter | undefined;
  #queue: JsonRpcMessage[] | undefined = [];

  constructor(toHub: (msg: JsonRpcMessage) => void) {
    this.#toHub = toHub;
  }

  /** The era is known and the child can be written to: what waited is sent, in order. */
  connect(era: UpstreamEra, toChild: (msg: JsonRpcMessage) => boolean): void {
    this.#toChild = toChild;
    if (era.era === 'modern') {
      this.#adapter = new ModernChildAdapter(toChild, this.#toHub, { version: era.version, discover: era.discover, now: Date.now });
    }
    const queued = this.#queue ?? [];
    this.#queue = undefined;
    for (const msg of queued) this.send(msg);
  }

  /** From the Hub; false when the child cannot take it (or the wait queue is full). */
  send(msg: JsonRpcMessage): boolean {
    if (this.#queue !== undefined) {
      if (this.#queue.length >= MAX_QUEUED_MESSAGES) return false;
      this.#queue.push(msg);
      return true;
    }
    // The adapter may answer synchronously (initialize, ping): the Hub records a call before sending it.
    if (this.#adapter !== undefined) return this.#adapter.send(msg);
    withoutLogLevel(msg);
    return this.#toChild!(msg);
  }

  /** From the child. */
  receive(msg: JsonRpcMessage): void {
    if (this.#adapter !== undefined) this.#adapter.receive(msg);
    else this.#toHub(msg);
  }

  /** A fresh child process replaced the old one (before the Hub is told it is up). */
  restarted(): void {
    this.#adapter?.reset();
  }
}

/**
 * A 2026-07-28 caller's request keeps its `logLevel` down to here, for a modern child's envelope; a
 * legacy child has no per-request level (its logs are filtered per caller by the Hub and the transport).
 */
function withoutLogLevel(msg: JsonRpcMessage): void {
  const params = isRequest(msg) && isObject(msg.params) ? msg.params : undefined;
  const meta = params !== undefined && isObject(params._meta) ? params._meta : undefined;
  if (meta === undefined || !(LOG_LEVEL_KEY in meta)) return;
  delete meta[LOG_LEVEL_KEY];
  if (Object.keys(meta).length === 0) delete params!._meta;
}
