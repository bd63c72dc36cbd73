/**
 * The last few minutes of calls per server, for the console: counts, errors and latency percentiles
 * in fixed time slots, plus the last errors. Recording a call is O(1) and allocates nothing (a slot
 * is reused once its time has passed), so it costs the call path a few additions.
 */

/** Upper bounds (ms) of the latency buckets; a percentile is reported as its bucket's bound. */
const LATENCY_BOUNDS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, Infinity];
/** Error messages are cut here: enough to tell what failed, never a whole payload. */
const MAX_MESSAGE_CHARS = 200;
/** Method names are the client's choice: cut as messages are, so 50 entries stay a few kB whatever clients send. */
const MAX_METHOD_CHARS = 100;

export interface CallPoint {
  /** Start of the slot, ms since the epoch. */
  startMs: number;
  count: number;
  errors: number;
  /** Undefined when the slot had no call. */
  p50Ms: number | undefined;
  p99Ms: number | undefined;
}

export interface CallError {
  timeMs: number;
  server: string;
  method: string;
  message: string;
}

interface Slot {
  startMs: number;
  count: number;
  errors: number;
  buckets: Uint32Array;
}

export class CallWindow {
  readonly slotMs: number;
  readonly slotCount: number;
  #servers = new Map<string, Slot[]>();
  #errors: Array<CallError | undefined>;
  #nextError = 0;

  /** Keeps `slotCount` slots of `slotMs` per server (default 30 × 10 s: five minutes) and `maxErrors` errors. */
  constructor(slotMs = 10_000, slotCount = 30, maxErrors = 50) {
    this.slotMs = slotMs;
    this.slotCount = slotCount;
    this.#errors = new Array<CallError | undefined>(maxErrors);
  }

  /**
   * One finished call; `method` and `message` (an error's), already free of secrets, are kept for the
   * last-errors list, each cut to a bound: nothing a client chose is stored whole.
   */
  record(server: string, method: string, durationMs: number, message: string | undefined, nowMs: number): void {
    const slot = this.#slot(server, nowMs);
    slot.count++;
    slot.buckets[bucketOf(durationMs)]!++;
    if (message === undefined) return;
    slot.errors++;
    this.#errors[this.#nextError] = { timeMs: nowMs, server, method: clip(method, MAX_METHOD_CHARS), message: clip(message, MAX_MESSAGE_CHARS) };
    this.#nextError = (this.#nextError + 1) % this.#errors.length;
  }

  /** Each server's slots, oldest first, ending with the one that holds `nowMs`; empty slots included. */
  series(nowMs: number): Array<{ server: string; points: CallPoint[] }> {
    const current = Math.floor(nowMs / this.slotMs);
    return [...this.#servers].map(([server, slots]) => {
      const points: CallPoint[] = [];
      for (let n = current - this.slotCount + 1; n <= current; n++) {
        const slot = slots[n % this.slotCount]!;
        const isLive = slot.startMs === n * this.slotMs;
        points.push(isLive
          ? { startMs: slot.startMs, count: slot.count, errors: slot.errors, p50Ms: percentile(slot, 0.5), p99Ms: percentile(slot, 0.99) }
          : { startMs: n * this.slotMs, count: 0, errors: 0, p50Ms: undefined, p99Ms: undefined });
      }
      return { server, points };
    });
  }

  /** The last errors, newest first. */
  errors(): CallError[] {
    const out: CallError[] = [];
    for (let i = 1; i <= this.#errors.length; i++) {
      const entry = this.#errors[(this.#nextError - i + this.#errors.length) % this.#errors.length];
      if (entry !== undefined) out.push(entry);
    }
    return out;
  }

  #slot(server: string, nowMs: number): Slot {
    let slots = this.#servers.get(server);
    if (slots === undefined) {
      slots = Array.from({ length: this.slotCount }, () => ({ startMs: -1, count: 0, errors: 0, buckets: new Uint32Array(LATENCY_BOUNDS_MS.length) }));
      this.#servers.set(server, slots);
    }
    const n = Math.floor(nowMs / this.slotMs);
    const slot = slots[n % this.slotCount]!;
    if (slot.startMs !== n * this.slotMs) {
      // This slot last held a call a whole window ago: reuse it for the current interval.
      slot.startMs = n * this.slotMs;
      slot.count = 0;
      slot.errors = 0;
      slot.buckets.fill(0);
    }
    return slot;
  }
}

/**
 * The first `maxChars` of `text` as a string of its own: V8's `slice` of a long string is a view that
 * keeps the whole original alive, so 100 chars cut from a 15 MB method name would still hold 15 MB.
 */
function clip(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : Buffer.from(text.slice(0, maxChars), 'utf8').toString('utf8');
}

function bucketOf(durationMs: number): number {
  let i = 0;
  while (durationMs > LATENCY_BOUNDS_MS[i]!) i++;
  return i;
}

function percentile(slot: Slot, q: number): number | undefined {
  if (slot.count === 0) return undefined;
  const rank = Math.ceil(q * slot.count);
  let seen = 0;
  for (let i = 0; i < slot.buckets.length; i++) {
    seen += slot.buckets[i]!;
    if (seen >= rank) return LATENCY_BOUNDS_MS[i] === Infinity ? LATENCY_BOUNDS_MS[i - 1]! : LATENCY_BOUNDS_MS[i]!;
  }
  return undefined;
}
