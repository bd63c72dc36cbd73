/**
 * Turns a bearer token into an OAuth principal: a JWT is verified against its issuer's JWKS (the
 * issuer named in the token picks which of our configured issuers' keys to try; the signature then
 * proves it), anything else goes to introspection when configured. `jku`, `x5u` and `jwk` headers
 * are never looked at: keys come only from the configured issuers.
 */
import { discoverIssuer } from './fetch-json.ts';
import { Introspector } from './introspection.ts';
import { JwksCache } from './jwks.ts';
import { checkAlg, checkClaims, decodeJwt, keyFits, looksLikeJwt, scopesOf, TokenError, verifySignature, MAX_TOKEN_BYTES } from './jwt.ts';
import { oauthPrincipal, type Principal } from './principal.ts';

export interface OAuthSettings {
  issuers: string[];
  /** Scheme, host and port, no trailing slash: resource identifiers are built from it. */
  publicUrl: string;
  /** Accepted `aud` values; empty: this proxy's own URLs. */
  audiences: string[];
  /** Required on every request and published as scopes_supported. */
  scopes: string[];
  jwksUrl: string | undefined;
  introspection: { url: string; clientId: string; clientSecret: string } | undefined;
  clockSkewS: number;
}

export class OAuthVerifier {
  #settings: OAuthSettings;
  #jwks = new Map<string, JwksCache>();
  #introspector: Introspector | undefined;

  constructor(settings: OAuthSettings, onError: (err: Error) => void) {
    this.#settings = settings;
    for (const issuer of settings.issuers) {
      const url = settings.jwksUrl !== undefined && settings.issuers.length === 1
        ? () => Promise.resolve(settings.jwksUrl!)
        : () => discoverIssuer(issuer).then((meta) => {
          if (typeof meta.jwks_uri !== 'string') throw new Error(`issuer ${issuer} publishes no jwks_uri`);
          return meta.jwks_uri;
        });
      this.#jwks.set(issuer, new JwksCache(url, onError));
    }
    const { introspection } = settings;
    if (introspection !== undefined) this.#introspector = new Introspector(introspection.url, introspection);
  }

  /** The default audience: the proxy's public URL and any endpoint URL under it. */
  isAudience = (aud: string): boolean => {
    const { audiences, publicUrl } = this.#settings;
    if (audiences.length > 0) return audiences.includes(aud);
    return aud === publicUrl || aud.startsWith(`${publicUrl}/`);
  };

  /** A verified principal, or a TokenError saying why not (safe to show; never contains the token). */
  async verify(token: string): Promise<Principal> {
    if (Buffer.byteLength(token) > MAX_TOKEN_BYTES) throw new TokenError('token too large');
    if (!looksLikeJwt(token)) {
      if (this.#introspector === undefined) throw new TokenError('not a JWT access token');
      return this.#introspected(token);
    }
    const jwt = decodeJwt(token);
    const alg = checkAlg(jwt.header.alg);
    const issuer = typeof jwt.payload.iss === 'string' ? jwt.payload.iss : '';
    const jwks = this.#jwks.get(issuer);
    if (jwks === undefined) throw new TokenError('wrong issuer');
    const kid = typeof jwt.header.kid === 'string' ? jwt.header.kid : undefined;
    const candidates = await jwks.keysFor(kid);
    if (candidates.length === 0) throw new TokenError(kid === undefined ? 'no signing keys' : 'unknown kid');
    const keys = candidates.filter((key) => keyFits(key, alg));
    if (keys.length === 0) throw new TokenError(`alg ${alg} does not match the key`);
    if (!keys.some((key) => verifySignature(jwt, key, alg))) throw new TokenError('bad signature');
    checkClaims(jwt.payload, this.#rules());
    return oauthPrincipal(jwt.payload, scopesOf(jwt.payload));
  }

  stop(): void {
    for (const jwks of this.#jwks.values()) jwks.stop();
  }

  async #introspected(token: string): Promise<Principal> {
    let claims: Record<string, unknown> | undefined;
    try {
      claims = await this.#introspector!.introspect(token);
    } catch (err) {
      throw new TokenError(`cannot introspect the token now (${(err as Error).message})`);
    }
    if (claims === undefined) throw new TokenError('token not active');
    // RFC 7662 makes iss, aud, exp and sub optional: check what is there, fill what a principal needs.
    const sub = typeof claims.sub === 'string' ? claims.sub : claims.client_id;
    const filled = { ...claims, iss: claims.iss ?? this.#settings.issuers[0], sub, aud: claims.aud ?? this.#settings.publicUrl, exp: claims.exp ?? Math.floor(Date.now() / 1000) + 60 };
    checkClaims(filled, this.#rules());
    return oauthPrincipal(filled, scopesOf(filled));
  }

  #rules(): Parameters<typeof checkClaims>[1] {
    return { issuers: this.#settings.issuers, isAudience: this.isAudience, skewS: this.#settings.clockSkewS, nowS: Math.floor(Date.now() / 1000) };
  }
}
