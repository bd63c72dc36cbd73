/**
 * Requests that several upstreams (aggregate members, pool replicas) make of one client, renumbered
 * so their ids cannot collide at the client; the client's answer goes back to the upstream that asked,
 * with the id it used. Pure.
 */
import type { JsonRpcId, JsonRpcRequest, JsonRpcResponse } from '../protocol/message.ts';

export class RequestRenumbering<Source> {
  #next = 1;
  #asked = new Map<number, { source: Source; id: JsonRpcId }>();

  /** Gives `req` a client-facing id (in place) and remembers who asked. */
  outbound(source: Source, req: JsonRpcRequest): void {
    const id = this.#next++;
    this.#asked.set(id, { source, id: req.id });
    req.id = id;
  }

  /** The client's answer: the id restored (in place) and the upstream it belongs to, or undefined. */
  answer(res: JsonRpcResponse): Source | undefined {
    const entry = typeof res.id === 'number' ? this.#asked.get(res.id) : undefined;
    if (entry === undefined) return undefined;
    this.#asked.delete(res.id as number);
    res.id = entry.id;
    return entry.source;
  }

  /** The upstream withdrew its request (`notifications/cancelled`): the client-facing id, forgotten. */
  withdraw(source: Source, id: unknown): number | undefined {
    for (const [clientId, entry] of this.#asked) {
      if (entry.source !== source || entry.id !== id) continue;
      this.#asked.delete(clientId);
      return clientId;
    }
    return undefined;
  }

  /** The upstream is gone: its questions will never need answers. */
  forget(source: Source): void {
    for (const [clientId, entry] of this.#asked) if (entry.source === source) this.#asked.delete(clientId);
  }
}
