/**
 * Resource subscriptions of many sessions over one child: the child is subscribed to a URI once,
 * while any session holds it, and `resources/updated` goes only to the sessions that hold it.
 */
import { RefCounts } from './ref-counts.ts';

export class SharedSubscriptions {
  #bySession = new Map<string, Set<string>>();
  #holders = new RefCounts<string>();

  /** True when the session is the URI's first holder: the child must be subscribed. */
  subscribe(sessionId: string, uri: string): boolean {
    let uris = this.#bySession.get(sessionId);
    if (uris === undefined) this.#bySession.set(sessionId, (uris = new Set()));
    if (uris.has(uri)) return false;
    uris.add(uri);
    return this.#holders.acquire(uri);
  }

  /** True when the session was the URI's last holder: the child must be unsubscribed. */
  unsubscribe(sessionId: string, uri: string): boolean {
    if (this.#bySession.get(sessionId)?.delete(uri) !== true) return false;
    return this.#holders.release(uri);
  }

  /** The session left: the URIs that no session holds any more. */
  dropSession(sessionId: string): string[] {
    const uris = this.#bySession.get(sessionId);
    this.#bySession.delete(sessionId);
    return [...(uris ?? [])].filter((uri) => this.#holders.release(uri));
  }

  holds(sessionId: string, uri: string): boolean {
    return this.#bySession.get(sessionId)?.has(uri) === true;
  }

  /** Every URI the child should be subscribed to (after a restart). */
  uris(): IterableIterator<string> {
    return this.#holders.keys();
  }
}
