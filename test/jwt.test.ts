/**
 * Token verification (issue 13) against a JWKS served by the test: every supported alg accepted, and
 * the negative table refused with its reason; kid rotation refetches once, rate limited; jku/x5u/jwk
 * headers never fetched; the JWKS cache honours the server's cache headers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OAuthVerifier, type OAuthSettings } from '../src/identity/oauth-verifier.ts';
import { maxAgeOf } from '../src/identity/jwks.ts';
import { TokenError } from '../src/identity/jwt.ts';
import { makeKey, signHs256WithPublicKey, signJwt, startIssuer, type Alg } from './helpers/issuer.ts';

const RESOURCE = 'http://127.0.0.1:9/mcp';

function settings(issuer: string, extra: Partial<OAuthSettings> = {}): OAuthSettings {
  return { issuers: [issuer], publicUrl: 'http://127.0.0.1:9', audiences: [], scopes: [], jwksUrl: undefined, introspection: undefined, clockSkewS: 60, ...extra };
}

async function refusal(verifier: OAuthVerifier, token: string): Promise<string> {
  try {
    await verifier.verify(token);
  } catch (err) {
    assert.ok(err instanceof TokenError, `not a TokenError: ${String(err)}`);
    assert.ok(!err.message.includes(token.slice(0, 20)), 'the reason must not echo the token');
    return err.message;
  }
  return 'accepted';
}

test('each supported alg is accepted with its own key', { timeout: 30_000 }, async (t) => {
  const algs: Alg[] = ['RS256', 'PS256', 'ES256', 'EdDSA'];
  const issuer = await startIssuer(algs.map((alg) => makeKey(alg, `k-${alg}`)));
  t.after(() => issuer.close());
  const verifier = new OAuthVerifier(settings(issuer.issuer), (err) => assert.fail(err.message));
  t.after(() => verifier.stop());
  const now = Math.floor(Date.now() / 1000);
  for (const key of issuer.keys) {
    const principal = await verifier.verify(signJwt(key, { iss: issuer.issuer, sub: `user-${key.alg}`, aud: RESOURCE, exp: now + 60, scope: 'a b' }));
    assert.equal(principal.id, `oauth:${issuer.issuer}#user-${key.alg}`);
    assert.deepEqual(principal.scopes, ['a', 'b']);
  }
  assert.equal(issuer.jwksFetches, 1, 'one fetch serves every key while the cache is fresh');
});

test('the negative token table', { timeout: 30_000 }, async (t) => {
  const rsa = makeKey('RS256', 'rsa-1');
  const ec = makeKey('ES256', 'ec-1');
  const issuer = await startIssuer([rsa, ec]);
  t.after(() => issuer.close());
  const attacker = await startIssuer([makeKey('RS256', 'evil')]);
  t.after(() => attacker.close());
  const verifier = new OAuthVerifier(settings(issuer.issuer), () => {});
  t.after(() => verifier.stop());
  const now = Math.floor(Date.now() / 1000);
  const good = { iss: issuer.issuer, sub: 'alice', aud: RESOURCE, iat: now, exp: now + 600 };
  const attackerKey = attacker.keys[0]!;
  const cases: Array<[string, string, RegExp]> = [
    ['valid', signJwt(rsa, good), /^accepted$/],
    ['wrong iss', signJwt(rsa, { ...good, iss: 'https://other.example' }), /wrong issuer/],
    ['wrong aud', signJwt(rsa, { ...good, aud: 'https://other.example/mcp' }), /wrong audience/],
    ['aud list with ours', signJwt(rsa, { ...good, aud: ['x', RESOURCE] }), /^accepted$/],
    ['expired beyond the skew', signJwt(rsa, { ...good, exp: now - 120 }), /expired/],
    ['expired within the skew', signJwt(rsa, { ...good, exp: now - 30 }), /^accepted$/],
    ['nbf in the future', signJwt(rsa, { ...good, nbf: now + 600 }), /not yet valid/],
    ['iat in the future', signJwt(rsa, { ...good, iat: now + 600 }), /future/],
    ['missing exp', signJwt(rsa, { ...good, exp: undefined }), /no exp/],
    ['missing sub', signJwt(rsa, { ...good, sub: undefined }), /no sub/],
    ['alg none', signJwt(rsa, good, { alg: 'none' }), /unsupported alg none/],
    ['HS256 with the RSA public key', signHs256WithPublicKey(rsa, good), /unsupported alg HS256/],
    ['alg differs from the JWK (PS256 on an RS256 key)', signJwt({ ...rsa, alg: 'PS256' }, good), /alg PS256 does not match/],
    ['ES256 header on the RSA kid', signJwt(ec, good, { kid: 'rsa-1' }), /alg ES256 does not match/],
    ['signed by another key with our kid', signJwt({ ...attackerKey, kid: 'rsa-1' }, good), /bad signature/],
    ['jku to the attacker (never fetched)', signJwt(attackerKey, good, { jku: `${attacker.issuer}/jwks` }), /unknown kid/],
    ['embedded jwk header, no kid (ignored)', signJwt(attackerKey, good, { jwk: attackerKey.jwk, kid: undefined }), /bad signature/],
    ['x5u header (never fetched)', signJwt(attackerKey, good, { x5u: `${attacker.issuer}/cert`, kid: 'rsa-1' }), /bad signature/],
    ['huge token', signJwt(rsa, { ...good, pad: 'x'.repeat(20_000) }), /too large/],
    ['not a JWT, no introspection', 'opaque-token-value', /not a JWT/],
    ['tampered payload', (() => { const [h, , s] = signJwt(rsa, good).split('.'); return `${h}.${Buffer.from(JSON.stringify({ ...good, sub: 'root' })).toString('base64url')}.${s}`; })(), /bad signature/],
  ];
  for (const [name, token, expected] of cases) assert.match(await refusal(verifier, token), expected, name);
  assert.equal(attacker.jwksFetches, 0, 'the attacker\'s JWKS was never fetched');
  assert.deepEqual(attacker.otherFetches, [], 'nothing at the attacker was fetched');
});

test('an unknown kid refetches the JWKS once (rotation), and a second unknown kid soon after does not', { timeout: 30_000 }, async (t) => {
  const issuer = await startIssuer([makeKey('ES256', 'old')]);
  t.after(() => issuer.close());
  const verifier = new OAuthVerifier(settings(issuer.issuer), () => {});
  t.after(() => verifier.stop());
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: issuer.issuer, sub: 'bob', aud: RESOURCE, exp: now + 600 };
  await verifier.verify(signJwt(issuer.keys[0]!, claims));
  assert.equal(issuer.jwksFetches, 1);
  const rotated = makeKey('ES256', 'new');
  issuer.keys.push(rotated);
  assert.equal((await verifier.verify(signJwt(rotated, claims))).name, 'bob', 'rotated key found by one refetch');
  assert.equal(issuer.jwksFetches, 2);
  assert.match(await refusal(verifier, signJwt({ ...rotated, kid: 'junk' }, claims)), /unknown kid/);
  assert.match(await refusal(verifier, signJwt({ ...rotated, kid: 'junk2' }, claims)), /unknown kid/);
  assert.equal(issuer.jwksFetches, 2, 'junk kids within the interval cost no fetch');
});

test('the JWKS cache lifetime follows Cache-Control, Expires and Age, clamped', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  const h = (init: Record<string, string>): Headers => new Headers(init);
  assert.equal(maxAgeOf(h({ 'cache-control': 'public, max-age=600' }), now), 600);
  assert.equal(maxAgeOf(h({ 'cache-control': 'max-age=600', age: '100' }), now), 500);
  assert.equal(maxAgeOf(h({ 'cache-control': 'no-store' }), now), 30, 'no-store: the minimum, not a fetch per request');
  assert.equal(maxAgeOf(h({ 'cache-control': 'max-age=99999999' }), now), 86_400);
  assert.equal(maxAgeOf(h({ expires: 'Thu, 01 Jan 2026 00:10:00 GMT' }), now), 600);
  assert.equal(maxAgeOf(h({}), now), 300);
});

test('--oauth-audience replaces the default audience', { timeout: 30_000 }, async (t) => {
  const issuer = await startIssuer([makeKey('EdDSA', 'k')]);
  t.after(() => issuer.close());
  const verifier = new OAuthVerifier(settings(issuer.issuer, { audiences: ['my-client-id'], jwksUrl: `${issuer.issuer}/jwks` }), () => {});
  t.after(() => verifier.stop());
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: issuer.issuer, sub: 'c', exp: now + 60 };
  assert.equal((await verifier.verify(signJwt(issuer.keys[0]!, { ...claims, aud: 'my-client-id' }))).name, 'c');
  assert.match(await refusal(verifier, signJwt(issuer.keys[0]!, { ...claims, aud: RESOURCE })), /wrong audience/);
});
