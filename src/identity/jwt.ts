/**
 * JWT access tokens (RFC 9068) checked with node:crypto alone: the header's `alg` must be one we
 * support and must agree with the key (RFC 8725 §3.1: never let the token pick the algorithm), then
 * the signature, then `iss`, `aud`, `exp`, `nbf`, `iat` with a clock skew. Pure but for crypto.
 */
import { constants, createPublicKey, verify, type KeyObject } from 'node:crypto';

export interface Jwk {
  kty?: string;
  kid?: string;
  alg?: string;
  use?: string;
  crv?: string;
  [field: string]: unknown;
}

export type JwtPayload = Record<string, unknown>;

export interface DecodedJwt {
  header: { alg?: unknown; kid?: unknown; typ?: unknown; [field: string]: unknown };
  payload: JwtPayload;
  signingInput: Buffer;
  signature: Buffer;
}

/** A token that is not acceptable; `message` is safe to show the client (it never contains the token). */
export class TokenError extends Error {}

/** Larger tokens are refused before any parsing: real access tokens are a few KiB. */
export const MAX_TOKEN_BYTES = 16 * 1024;

/** The algorithm each supported `alg` needs the key to be: `kty` and, for curves, `crv`. */
const KEY_TYPES: Record<string, { kty: string; crv?: string }> = {
  RS256: { kty: 'RSA' },
  PS256: { kty: 'RSA' },
  ES256: { kty: 'EC', crv: 'P-256' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
};

export const SUPPORTED_ALGS = Object.keys(KEY_TYPES);

const B64URL = /^[A-Za-z0-9_-]*$/;

function decodeJsonPart(part: string, what: string): Record<string, unknown> {
  if (!B64URL.test(part)) throw new TokenError(`malformed token ${what}`);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new TokenError(`malformed token ${what}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TokenError(`malformed token ${what}`);
  return value as Record<string, unknown>;
}

/** True when `token` has the shape of a JWS compact serialization (three base64url parts; `alg: none` has an empty signature). */
export function looksLikeJwt(token: string): boolean {
  const parts = token.split('.');
  return parts.length === 3 && parts[0] !== '' && parts[1] !== '' && parts.every((part) => B64URL.test(part));
}

/** Splits and decodes a compact JWS without trusting anything in it yet. */
export function decodeJwt(token: string): DecodedJwt {
  if (Buffer.byteLength(token) > MAX_TOKEN_BYTES) throw new TokenError('token too large');
  const parts = token.split('.');
  if (parts.length !== 3) throw new TokenError('malformed token');
  const [head, body, sig] = parts as [string, string, string];
  if (!B64URL.test(sig)) throw new TokenError('malformed token signature');
  return {
    header: decodeJsonPart(head, 'header'),
    payload: decodeJsonPart(body, 'payload'),
    signingInput: Buffer.from(`${head}.${body}`),
    signature: Buffer.from(sig, 'base64url'),
  };
}

/** Refuses `none`, HS* and anything else we do not verify, before a key is even looked up. */
export function checkAlg(alg: unknown): string {
  if (typeof alg !== 'string' || KEY_TYPES[alg] === undefined) throw new TokenError(`unsupported alg ${String(alg).slice(0, 20)}`);
  return alg;
}

/** Whether `jwk` may verify `alg`: its declared `alg` (if any) must be the same, its type must fit. */
export function keyFits(jwk: Jwk, alg: string): boolean {
  const need = KEY_TYPES[alg];
  if (need === undefined) return false;
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  return jwk.kty === need.kty && (need.crv === undefined || jwk.crv === need.crv);
}

const keyObjects = new WeakMap<Jwk, KeyObject>();

function keyObject(jwk: Jwk): KeyObject {
  let key = keyObjects.get(jwk);
  if (key === undefined) {
    // Only the public members: a JWKS that leaks private parts must not turn into a private key here.
    const { kty, crv, n, e, x, y } = jwk;
    key = createPublicKey({ key: { kty, crv, n, e, x, y } as import('node:crypto').JsonWebKey, format: 'jwk' });
    keyObjects.set(jwk, key);
  }
  return key;
}

/** Verifies the signature of `jwt` with `jwk` under `alg` (already checked with keyFits). */
export function verifySignature(jwt: DecodedJwt, jwk: Jwk, alg: string): boolean {
  let key: KeyObject;
  try {
    key = keyObject(jwk);
  } catch {
    return false;
  }
  switch (alg) {
    case 'RS256':
      return verify('sha256', jwt.signingInput, key, jwt.signature);
    case 'PS256':
      return verify('sha256', jwt.signingInput, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, jwt.signature);
    case 'ES256':
      return jwt.signature.length === 64 && verify('sha256', jwt.signingInput, { key, dsaEncoding: 'ieee-p1363' }, jwt.signature);
    case 'EdDSA':
      return verify(null, jwt.signingInput, key, jwt.signature);
    default:
      return false;
  }
}

export interface ClaimRules {
  issuers: readonly string[];
  /** Accepts an `aud` value. */
  isAudience: (aud: string) => boolean;
  skewS: number;
  nowS: number;
}

function numericDate(payload: JwtPayload, name: string): number | undefined {
  const value = payload[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TokenError(`malformed ${name}`);
  return value;
}

/** RFC 9068 §4: `iss` one of ours, `aud` ours, `exp` required and in the future, `nbf`/`iat` not ahead of us. */
export function checkClaims(payload: JwtPayload, rules: ClaimRules): void {
  if (typeof payload.iss !== 'string' || !rules.issuers.includes(payload.iss)) throw new TokenError('wrong issuer');
  const auds = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (!auds.some((aud) => typeof aud === 'string' && rules.isAudience(aud))) throw new TokenError('wrong audience');
  const exp = numericDate(payload, 'exp');
  if (exp === undefined) throw new TokenError('token has no exp');
  if (exp + rules.skewS <= rules.nowS) throw new TokenError('token expired');
  const nbf = numericDate(payload, 'nbf');
  if (nbf !== undefined && nbf - rules.skewS > rules.nowS) throw new TokenError('token not yet valid');
  const iat = numericDate(payload, 'iat');
  if (iat !== undefined && iat - rules.skewS > rules.nowS) throw new TokenError('token issued in the future');
  if (typeof payload.sub !== 'string' || payload.sub === '') throw new TokenError('token has no sub');
}

/** The scopes a token grants: `scope` (space separated, RFC 9068) or `scp` (an array, some providers). */
export function scopesOf(payload: JwtPayload): string[] {
  if (typeof payload.scope === 'string') return payload.scope.split(' ').filter((s) => s !== '');
  if (Array.isArray(payload.scp)) return payload.scp.filter((s): s is string => typeof s === 'string');
  return [];
}
