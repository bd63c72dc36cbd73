/** Counts holders per key; tells when a key gains its first holder or loses its last. */
export class RefCounts<K> {
  #counts = new Map<K, number>();

  /** Adds a holder; true when it is the first. */
  acquire(key: K): boolean {
    const count = this.#counts.get(key) ?? 0;
    this.#counts.set(key, count + 1);
    return count === 0;
  }

  /** Removes a holder; true when it was the last. */
  release(key: K): boolean {
    const count = this.#counts.get(key);
    if (count === undefined) return false;
    if (count > 1) {
      this.#counts.set(key, count - 1);
      return false;
    }
    this.#counts.delete(key);
    return true;
  }

  keys(): IterableIterator<K> {
    return this.#counts.keys();
  }
}
