/** Who a request comes from: a key's name, an OAuth subject (`iss` + `sub`), or nobody (auth off). */

export type AuthKind = 'oauth' | 'key' | 'none';

export interface Principal {
  /** Stable and unique across kinds: what sessions, children and rate limits are keyed on. */
  readonly id: string;
  /** For people: the key's name or the token's `sub`. */
  readonly name: string;
  readonly kind: AuthKind;
  /** Verified token claims (OAuth only); never the token itself. */
  readonly claims: Readonly<Record<string, unknown>>;
  readonly scopes: readonly string[];
  /** The credential came in the query string (`auth_key`): the SDK's SSE client drops it on its posts. */
  readonly isQueryKey: boolean;
}

export const ANONYMOUS: Principal = { id: 'none:', name: 'anonymous', kind: 'none', claims: {}, scopes: [], isQueryKey: false };

export function keyPrincipal(name: string, isQueryKey: boolean): Principal {
  return { id: `key:${name}`, name, kind: 'key', claims: {}, scopes: [], isQueryKey };
}

export function oauthPrincipal(claims: Record<string, unknown>, scopes: string[]): Principal {
  const iss = String(claims.iss);
  const sub = String(claims.sub);
  return { id: `oauth:${iss}#${sub}`, name: sub, kind: 'oauth', claims, scopes, isQueryKey: false };
}

/**
 * Whether `requester` may use a session `owner` opened. Another principal may not: its request is
 * answered as if the session did not exist, so a leaked session id is worth nothing. A request with no
 * credential at all (`undefined`) is let through only where none could be sent: auth off, or a
 * session opened with the query-string key, which the SDK's SSE client drops when it posts.
 */
export function mayUseSession(owner: Principal, requester: Principal | undefined): boolean {
  if (requester === undefined) return owner.kind === 'none' || owner.isQueryKey;
  return requester.id === owner.id;
}
