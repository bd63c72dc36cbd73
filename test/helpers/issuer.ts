/**
 * A stand-in authorization server for tests: keys made with node:crypto, tokens signed with them, and
 * its metadata and JWKS served on 127.0.0.1 (port 0), counting every fetch.
 */
import { generateKeyPairSync, createPublicKey, sign, createHmac, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';

export type Alg = 'RS256' | 'PS256' | 'ES256' | 'EdDSA';

export interface TestKey {
  kid: string;
  alg: Alg;
  privateKey: KeyObject;
  jwk: Record<string, unknown>;
}

export function makeKey(alg: Alg, kid: string): TestKey {
  const pair = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : alg === 'EdDSA' ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, alg, privateKey: pair.privateKey, jwk: { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' } };
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS over `payload` with `key`; `header` fields override the defaults (alg, kid, typ). */
export function signJwt(key: TestKey, payload: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const head = { alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header };
  const input = `${b64(head)}.${b64(payload)}`;
  const alg = head.alg as string;
  let signature: Buffer;
  if (alg === 'RS256') signature = sign('sha256', Buffer.from(input), key.privateKey);
  else if (alg === 'PS256') signature = sign('sha256', Buffer.from(input), { key: key.privateKey, padding: 6, saltLength: 32 });
  else if (alg === 'ES256') signature = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  else if (alg === 'EdDSA') signature = sign(null, Buffer.from(input), key.privateKey);
  else if (alg === 'none') signature = Buffer.alloc(0);
  else throw new Error(`test cannot sign ${alg}`);
  return `${input}.${signature.toString('base64url')}`;
}

/** The classic confusion attack: HS256 with the RSA public key's PEM as the HMAC secret. */
export function signHs256WithPublicKey(key: TestKey, payload: Record<string, unknown>): string {
  const publicPem = createPublicKey(key.privateKey).export({ format: 'pem', type: 'spki' });
  const input = `${b64({ alg: 'HS256', kid: key.kid, typ: 'at+jwt' })}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', publicPem).update(input).digest('base64url')}`;
}

export interface TestIssuer {
  issuer: string;
  keys: TestKey[];
  /** Fetches of the JWKS so far. */
  jwksFetches: number;
  /** Requests to any path not served (an attacker's jku, say) would land here too: they are counted. */
  otherFetches: string[];
  /** A token for `sub` with `aud`, valid for an hour, signed with the first key; `claims` override. */
  token(sub: string, aud: string, claims?: Record<string, unknown>): string;
  close(): Promise<void>;
}

/** Serves RFC 8414 metadata and the JWKS of `keys` (mutable: push a key to rotate it in). */
export async function startIssuer(keys: TestKey[], cacheControl = 'max-age=300'): Promise<TestIssuer> {
  let issuer = '';
  const state: TestIssuer = {
    issuer: '', keys, jwksFetches: 0, otherFetches: [],
    token: (sub, aud, claims = {}) => {
      const now = Math.floor(Date.now() / 1000);
      return signJwt(state.keys[0]!, { iss: issuer, sub, aud, iat: now, exp: now + 3600, scope: 'mcp', ...claims });
    },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
  const server: Server = createServer((req, res) => {
    if (req.url === '/.well-known/oauth-authorization-server') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks`, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token` }));
    } else if (req.url === '/jwks') {
      state.jwksFetches++;
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': cacheControl }).end(JSON.stringify({ keys: state.keys.map((key) => key.jwk) }));
    } else {
      state.otherFetches.push(req.url ?? '');
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.issuer = issuer;
  return state;
}

/** A port that was free a moment ago: --public-url must name the port before the proxy listens. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
