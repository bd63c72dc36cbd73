/**
 * Per-principal rate limits: one token bucket each (`n` requests per period, bursts up to `n`).
 * Each principal drains only its own bucket, so a flooder gets 429s while a quiet principal is
 * untouched. Pure: the caller passes the time.
 */

export interface RateLimit {
  count: number;
  periodMs: number;
}

/** `30/m`, `5/s`: requests per second or minute. */
export function parseRateLimit(text: string): RateLimit {
  const match = /^(\d+)\/(s|m)$/.exec(text.trim());
  if (match === null || Number(match[1]) < 1) throw new Error('must be <n>/s or <n>/m with n ≥ 1, e.g. 60/m');
  return { count: Number(match[1]), periodMs: match[2] === 's' ? 1000 : 60_000 };
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/** Buckets kept at most; full ones are forgotten first (a full bucket is the same as none). */
const MAX_BUCKETS = 100_000;

export class RateLimiter {
  #limit: RateLimit;
  #buckets = new Map<string, Bucket>();

  constructor(limit: RateLimit) {
    this.#limit = limit;
  }

  /** Takes one token for `key`: 0 when admitted, else the seconds until a token is back (Retry-After). */
  take(key: string, nowMs: number): number {
    const { count, periodMs } = this.#limit;
    const ratePerMs = count / periodMs;
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= MAX_BUCKETS) this.#forgetFull(nowMs);
      bucket = { tokens: count, updatedMs: nowMs };
      this.#buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(count, bucket.tokens + (nowMs - bucket.updatedMs) * ratePerMs);
    bucket.updatedMs = nowMs;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerMs / 1000));
  }

  #forgetFull(nowMs: number): void {
    const { count, periodMs } = this.#limit;
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + (nowMs - bucket.updatedMs) * (count / periodMs) >= count) this.#buckets.delete(key);
    }
    // Still full of busy principals: drop the oldest rather than grow without bound.
    if (this.#buckets.size >= MAX_BUCKETS) this.#buckets.delete(this.#buckets.keys().next().value!);
  }
}
