/**
 * Opaque access tokens through RFC 7662 introspection, with the proxy's own client credentials.
 * Answers are cached by the token's digest (never the token) for the token's remaining life, at most
 * MAX_TTL_MS, in a bounded map; a refused token is remembered briefly so a retry loop costs nothing.
 */
import { createHash } from 'node:crypto';
import { fetchJson } from './fetch-json.ts';

const MAX_TTL_MS = 5 * 60_000;
const INACTIVE_TTL_MS = 10_000;
const MAX_ENTRIES = 10_000;

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

/** `client_id:client_secret` on one line, or JSON `{ "client_id", "client_secret" }`. */
export function parseClientCredentials(text: string): ClientCredentials {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const value = JSON.parse(trimmed) as { client_id?: unknown; client_secret?: unknown };
    if (typeof value.client_id === 'string' && typeof value.client_secret === 'string') return { clientId: value.client_id, clientSecret: value.client_secret };
    throw new Error('expected client_id and client_secret strings');
  }
  const colon = trimmed.indexOf(':');
  if (colon <= 0 || trimmed.includes('\n')) throw new Error('expected one line client_id:client_secret');
  return { clientId: trimmed.slice(0, colon), clientSecret: trimmed.slice(colon + 1) };
}

export class Introspector {
  #url: string;
  #authorization: string;
  #cache = new Map<string, { claims: Record<string, unknown> | undefined; untilMs: number }>();

  constructor(url: string, credentials: ClientCredentials) {
    this.#url = url;
    // RFC 6749 §2.3.1: both parts form-encoded before base64.
    const user = `${encodeURIComponent(credentials.clientId)}:${encodeURIComponent(credentials.clientSecret)}`;
    this.#authorization = `Basic ${Buffer.from(user).toString('base64')}`;
  }

  /** The active token's claims, or undefined when the server says it is not active. Throws on a network failure. */
  async introspect(token: string): Promise<Record<string, unknown> | undefined> {
    const key = createHash('sha256').update(token).digest('base64url');
    const now = Date.now();
    const cached = this.#cache.get(key);
    if (cached !== undefined && cached.untilMs > now) return cached.claims;
    const { status, body } = await fetchJson(this.#url, {
      method: 'POST',
      headers: { authorization: this.#authorization, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
    });
    if (status !== 200 || typeof body !== 'object' || body === null) throw new Error(`introspection: HTTP ${status}`);
    const claims = (body as { active?: unknown }).active === true ? body as Record<string, unknown> : undefined;
    const exp = typeof claims?.exp === 'number' ? claims.exp * 1000 : now + MAX_TTL_MS;
    this.#remember(key, claims, claims === undefined ? now + INACTIVE_TTL_MS : Math.min(exp, now + MAX_TTL_MS));
    return claims;
  }

  #remember(key: string, claims: Record<string, unknown> | undefined, untilMs: number): void {
    if (this.#cache.size >= MAX_ENTRIES) {
      const now = Date.now();
      for (const [k, entry] of this.#cache) if (entry.untilMs <= now) this.#cache.delete(k);
      // Map order is insertion order: drop the oldest when everything is still live.
      while (this.#cache.size >= MAX_ENTRIES) this.#cache.delete(this.#cache.keys().next().value!);
    }
    this.#cache.set(key, { claims, untilMs });
  }
}
