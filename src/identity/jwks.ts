/**
 * One issuer's signing keys: fetched from its JWKS URL, kept as long as the response's cache headers
 * say (bounded), refreshed in the background before they go stale, and refetched once on an unknown
 * `kid` (key rotation) at most every KID_MISS_INTERVAL_MS so junk `kid`s cannot make us hammer the server.
 */
import { fetchJson } from './fetch-json.ts';
import type { Jwk } from './jwt.ts';

const DEFAULT_MAX_AGE_S = 300;
const MIN_MAX_AGE_S = 30;
const MAX_MAX_AGE_S = 24 * 3600;
export const KID_MISS_INTERVAL_MS = 30_000;

/** `max-age` from Cache-Control (no-store/no-cache → the minimum), else Expires, clamped. */
export function maxAgeOf(headers: Headers, nowMs: number): number {
  const control = headers.get('cache-control') ?? '';
  let seconds: number | undefined;
  const match = /(?:^|,)\s*max-age\s*=\s*(\d+)/i.exec(control);
  if (/no-store|no-cache/i.test(control)) seconds = 0;
  else if (match !== null) seconds = Number(match[1]) - Number(headers.get('age') ?? '0');
  else if (headers.get('expires') !== null) seconds = (Date.parse(headers.get('expires')!) - nowMs) / 1000;
  if (seconds === undefined || Number.isNaN(seconds)) seconds = DEFAULT_MAX_AGE_S;
  return Math.min(MAX_MAX_AGE_S, Math.max(MIN_MAX_AGE_S, Math.floor(seconds)));
}

export class JwksCache {
  #url: () => Promise<string>;
  #resolvedUrl: string | undefined;
  #keys: Jwk[] = [];
  #expiresMs = 0;
  #fetchedMs = 0;
  #lastKidMissMs = -Infinity;
  #inflight: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #onError: (err: Error) => void;

  /** `url` resolves the JWKS URL (given, or from the issuer's metadata) on first use. */
  constructor(url: () => Promise<string>, onError: (err: Error) => void) {
    this.#url = url;
    this.#onError = onError;
  }

  /** The keys for `kid` (every key when the token names none); refetches once on a miss, rate limited. */
  async keysFor(kid: string | undefined): Promise<Jwk[]> {
    const now = Date.now();
    if (this.#fetchedMs === 0 || now >= this.#expiresMs) await this.#refresh();
    let found = this.#match(kid);
    if (found.length === 0 && kid !== undefined && now - this.#lastKidMissMs >= KID_MISS_INTERVAL_MS) {
      this.#lastKidMissMs = now;
      await this.#refresh();
      found = this.#match(kid);
    }
    return found;
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  #match(kid: string | undefined): Jwk[] {
    return kid === undefined ? this.#keys : this.#keys.filter((key) => key.kid === kid);
  }

  /** One fetch at a time; concurrent callers share it. A failed refresh keeps the keys we had. */
  #refresh(): Promise<void> {
    this.#inflight ??= this.#fetch().catch((err: Error) => this.#onError(err)).finally(() => { this.#inflight = undefined; });
    return this.#inflight;
  }

  async #fetch(): Promise<void> {
    // Discovered once; a failed discovery is tried again on the next refresh.
    this.#resolvedUrl ??= await this.#url();
    const url = this.#resolvedUrl;
    const { status, body, headers } = await fetchJson(url);
    const keys = (body as { keys?: unknown } | null)?.keys;
    if (status !== 200 || !Array.isArray(keys)) throw new Error(`${url}: HTTP ${status}, no keys`);
    const now = Date.now();
    this.#keys = keys.filter((key): key is Jwk => typeof key === 'object' && key !== null);
    this.#fetchedMs = now;
    const maxAgeMs = maxAgeOf(headers, now) * 1000;
    this.#expiresMs = now + maxAgeMs;
    // Refresh ahead of expiry so a request rarely waits on the network.
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#refresh(), Math.max(1000, maxAgeMs * 0.8));
    this.#timer.unref();
  }
}
