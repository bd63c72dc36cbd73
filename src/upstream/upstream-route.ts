/**
 * The path between a Hub and its child. A legacy child is written to directly; a modern one through a
 * ModernChildAdapter. Until the child's era is known (the probe runs while the proxy already listens),
 * what the Hub sends waits here, bounded.
 */
import type { JsonRpcMessage } from '../protocol/message.ts';
import { peerAttributes, RoundTrips } from '../trace/round-trips.ts';
import { tracing } from '../trace/tracer.ts';
import type { UpstreamEra } from './era-probe.ts';
import { ModernChildAdapter } from './modern-child.ts';

/** Messages held while the era is unknown; past it the Hub is told the child cannot take more. */
const MAX_QUEUED_MESSAGES = 1000;

export class UpstreamRoute {
  #toHub: (msg: JsonRpcMessage) => void;
  #toChild: ((msg: JsonRpcMessage) => boolean) | undefined;
  #adapter: ModernChildAdapter | undefined;
  #queue: JsonRpcMessage[] | undefined = [];
  /** The client span of each request to the child, when tracing is on. */
  #trips: RoundTrips | undefined;

  /** `peer`: the server this route reaches (its spec: name, and URL for a remote member), for the spans' attributes. */
  constructor(toHub: (msg: JsonRpcMessage) => void, peer?: { name: string; remote?: { url: string } }) {
    const trips = tracing.isOn && peer !== undefined ? new RoundTrips(peerAttributes(peer.name, peer.remote?.url)) : undefined;
    this.#trips = trips;
    this.#toHub = trips === undefined ? toHub : (msg) => trips.received(msg, toHub);
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
    return this.#trips === undefined ? this.#write(msg) : this.#trips.send(msg, (traced) => this.#write(traced));
  }

  #write(msg: JsonRpcMessage): boolean {
    // The adapter may answer synchronously (initialize, ping): the Hub records a call before sending it.
    return this.#adapter === undefined ? this.#toChild!(msg) : this.#adapter.send(msg);
  }

  /** From the child. */
  receive(msg: JsonRpcMessage): void {
    if (this.#adapter !== undefined) this.#adapter.receive(msg);
    else this.#toHub(msg);
  }

  /** A fresh child process replaced the old one (before the Hub is told it is up). */
  restarted(): void {
    this.#trips?.lost();
    this.#adapter?.reset();
  }
}
