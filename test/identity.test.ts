/** The pure identity parts (issue 13): named keys, rate buckets, tool rules, metadata and challenges, session ownership. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyRing, parseNamedKeys } from '../src/identity/named-keys.ts';
import { parseRateLimit, RateLimiter } from '../src/identity/token-bucket.ts';
import { parseToolRule, ToolRules } from '../src/identity/tool-rules.ts';
import { bearerChallenge, metadataDocument, metadataUrl } from '../src/identity/resource-metadata.ts';
import { ANONYMOUS, keyPrincipal, mayUseSession, oauthPrincipal } from '../src/identity/principal.ts';
import { parseClientCredentials } from '../src/identity/introspection.ts';
import { buildIdentityConfig, identityWithEnv, type IdentityRaw } from '../src/config/identity-config.ts';
import { buildConfig } from '../src/config/config.ts';
import { Authenticator } from '../src/identity/authenticator.ts';
import { Identity } from '../src/identity/identity.ts';
import { parseAllowList } from '../src/config/env-policy.ts';
import { envFor } from '../src/servers/aggregate/route-message.ts';

test('named keys: lines and JSON, comments skipped, bad files say which line and never the key', () => {
  const keys = parseNamedKeys('# team\nalice: key-of-alice-1\n\nbob:key-of-bob-2:with-colon\n');
  assert.deepEqual(keys, [{ name: 'alice', key: 'key-of-alice-1' }, { name: 'bob', key: 'key-of-bob-2:with-colon' }]);
  assert.deepEqual(parseNamedKeys('{"ci":"ci-key-12345"}'), [{ name: 'ci', key: 'ci-key-12345' }]);
  assert.throws(() => parseNamedKeys('alice key-without-colon'), /line 1: expected name:key/);
  assert.throws(() => parseNamedKeys('a:secret-one-1\na:secret-two-2'), /appears twice/);
  assert.throws(() => parseNamedKeys('a:same-secret-1\nb:same-secret-1'), (err: Error) => /also another name's key/.test(err.message) && !err.message.includes('same-secret'));
  assert.throws(() => parseNamedKeys('a:short'), /shorter than 8/);
  assert.throws(() => parseNamedKeys('bad name:secret-123'), /key name/);
});

test('a key ring finds the name of any key and nothing else', () => {
  const ring = new KeyRing([{ name: 'alice', key: 'aaaaaaaa1' }, { name: 'bob', key: 'bbbbbbbb2' }]);
  assert.equal(ring.match('aaaaaaaa1'), 'alice');
  assert.equal(ring.match('bbbbbbbb2'), 'bob');
  assert.equal(ring.match('aaaaaaaa'), undefined);
  assert.equal(ring.match(''), undefined);
});

test('token bucket: a burst of n, then one per n-th of the period; each principal has its own', () => {
  assert.deepEqual(parseRateLimit('5/s'), { count: 5, periodMs: 1000 });
  assert.deepEqual(parseRateLimit('60/m'), { count: 60, periodMs: 60_000 });
  for (const bad of ['0/s', '5/h', 'five/s', '5']) assert.throws(() => parseRateLimit(bad));
  const limiter = new RateLimiter({ count: 3, periodMs: 3000 });
  const t0 = 1_000_000;
  assert.deepEqual([1, 2, 3].map(() => limiter.take('flood', t0)), [0, 0, 0]);
  assert.equal(limiter.take('flood', t0), 1, 'empty: retry after a second');
  assert.equal(limiter.take('quiet', t0), 0, 'another principal is untouched');
  assert.equal(limiter.take('flood', t0 + 1000), 0, 'one token back after a third of the period');
  assert.equal(limiter.take('flood', t0 + 1000), 1);
});

test('tool rules: by name, by claim, by scope; no rules allow all; a scope rule names the scope to step up to', () => {
  const alice = keyPrincipal('alice', false);
  const reader = oauthPrincipal({ iss: 'https://as', sub: 'u1', groups: ['readers'] }, ['mcp']);
  const writer = oauthPrincipal({ iss: 'https://as', sub: 'u2' }, ['mcp', 'tools.write']);
  assert.equal(new ToolRules([]).check(alice, 'anything').allowed, true);
  const rules = new ToolRules(['alice=*', 'groups:readers=get_*,list_*', 'scope:tools.write=write_*,get_*'].map(parseToolRule));
  assert.equal(rules.check(alice, 'write_file').allowed, true);
  assert.equal(rules.check(reader, 'get_user').allowed, true);
  assert.deepEqual(rules.check(reader, 'write_file'), { allowed: false, scopes: ['tools.write'] });
  assert.equal(rules.check(writer, 'write_file').allowed, true);
  assert.deepEqual(rules.check(writer, 'delete_all'), { allowed: false, scopes: [] });
  assert.throws(() => parseToolRule('alice'), /must be/);
  assert.throws(() => parseToolRule('alice='), /must be/);
});

test('RFC 9728 metadata and the Bearer challenge are built from the public URL', () => {
  const server = { publicUrl: 'https://mcp.example.com', issuers: ['https://as.example.com'], scopes: ['mcp'], name: 'mcpproxy' };
  assert.deepEqual(metadataDocument(server, '/servers/git/mcp'), {
    resource: 'https://mcp.example.com/servers/git/mcp', authorization_servers: ['https://as.example.com'],
    scopes_supported: ['mcp'], bearer_methods_supported: ['header'], resource_name: 'mcpproxy',
  });
  assert.equal(metadataUrl(server, '/mcp'), 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp');
  assert.equal(bearerChallenge(server, '/mcp', { scopes: ['mcp'] }),
    'Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="mcp"');
  assert.equal(bearerChallenge(server, '', { scopes: [], error: 'invalid_token', description: 'bad "sig"' }),
    'Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource", error="invalid_token", error_description="bad \\"sig\\""');
});

test('a session answers only its principal; a credential-less post only where none could be sent', () => {
  const a = keyPrincipal('a', false);
  const aViaQuery = keyPrincipal('a', true);
  assert.equal(mayUseSession(a, a), true);
  assert.equal(mayUseSession(a, keyPrincipal('b', false)), false);
  assert.equal(mayUseSession(a, undefined), false, 'opened with a header: posts must carry it too');
  assert.equal(mayUseSession(aViaQuery, undefined), true, 'opened with ?auth_key: the SDK drops it on posts');
  assert.equal(mayUseSession(ANONYMOUS, undefined), true);
  const u = oauthPrincipal({ iss: 'https://as', sub: 'same' }, []);
  assert.equal(mayUseSession(u, oauthPrincipal({ iss: 'https://other-as', sub: 'same' }, [])), false, 'iss is part of who');
});

test('introspection client credentials: one line or JSON', () => {
  assert.deepEqual(parseClientCredentials('proxy:s3cret:x\n'), { clientId: 'proxy', clientSecret: 's3cret:x' });
  assert.deepEqual(parseClientCredentials('{"client_id":"p","client_secret":"q"}'), { clientId: 'p', clientSecret: 'q' });
  assert.throws(() => parseClientCredentials('no-colon'));
});

test('identity flags: OAuth needs a public URL, https unless loopback; bad values say which flag', () => {
  const base = { oauthIssuer: ['https://as.example.com'], publicUrl: 'https://mcp.example.com' };
  const ok = buildIdentityConfig(base);
  assert.equal(ok.oauth?.publicUrl, 'https://mcp.example.com');
  assert.equal(ok.oauth?.clockSkewS, 60);
  assert.equal(buildIdentityConfig({ ...base, publicUrl: 'http://127.0.0.1:8000' }).oauth?.publicUrl, 'http://127.0.0.1:8000');
  const refused: Array<[IdentityRaw, RegExp]> = [
    [{ oauthIssuer: ['https://as.example.com'] }, /needs --public-url/],
    [{ ...base, publicUrl: 'http://mcp.example.com' }, /--public-url.*https/],
    [{ ...base, publicUrl: 'https://mcp.example.com/mcp' }, /no path/],
    [{ ...base, oauthIssuer: ['http://as.example.com'] }, /--oauth-issuer.*https/],
    [{ ...base, oauthIntrospectionUrl: 'https://as.example.com/introspect' }, /needs --oauth-client-credentials-file/],
    [{ oauthJwksUrl: 'https://as.example.com/jwks' }, /need --oauth-issuer/],
    [{ ...base, oauthClockSkew: '-1' }, /--oauth-clock-skew/],
    [{ rateLimit: '10/h' }, /--rate-limit/],
    [{ childPer: 'user' }, /--child-per/],
    [{ envFromClaim: ['1BAD=sub'] }, /--env-from-claim/],
    [{ allowTools: ['nobody'] }, /--allow-tools/],
  ];
  for (const [raw, expected] of refused) assert.throws(() => buildIdentityConfig(raw), expected, JSON.stringify(raw));
});

test('identity environment variables: lists split on commas, ALLOW_TOOLS on semicolons, flags win', () => {
  const raw = identityWithEnv({ rateLimit: '5/s' }, { OAUTH_ISSUER: 'https://a, https://b', ALLOW_TOOLS: 'alice=a,b; *=c', RATE_LIMIT: '1/m' });
  assert.deepEqual(raw.oauthIssuer, ['https://a', 'https://b']);
  assert.deepEqual(raw.allowTools, ['alice=a,b', '*=c']);
  assert.equal(raw.rateLimit, '5/s');
});

test('--child-per principal is refused where no server is independent', () => {
  assert.throws(() => buildConfig({ host: '127.0.0.1', childPer: 'principal' }, ['node', 'x.js'], {}), /--child-per principal needs independent servers/);
  assert.equal(buildConfig({ host: '127.0.0.1', childPer: 'principal', shared: false }, ['node', 'x.js'], {}).servers[0]!.childPer, 'principal', 'the flag reaches the server');
  assert.deepEqual(buildConfig({ host: '127.0.0.1', envFromClaim: ['A=sub'] }, ['node', 'x.js'], {}).warnings, ['--env-from-claim has no effect without --oauth-issuer']);
});

test('--env-from-claim: claim variables come only from the token; the aggregate passes them to every member, other variables by its allowEnv', () => {
  const identity = new Identity(new Authenticator({ authKey: undefined, namedKeys: undefined, oauth: undefined }, () => {}), {
    rateLimit: undefined, toolRules: [], envFromClaim: [{ name: 'USER_EMAIL', claim: 'email' }, { name: 'USER_ORG', claim: 'org' }],
  });
  const alice = oauthPrincipal({ iss: 'https://as', sub: 'alice', email: 'alice@example.com' }, []);
  const client = { TEAM: 'ops', USER_EMAIL: 'forged@example.com', USER_ORG: 'forged' };
  assert.deepEqual(identity.callerEnv(client, alice), { TEAM: 'ops', USER_EMAIL: 'alice@example.com' }, 'a claim the token lacks sets nothing, and the client cannot fill it');
  assert.deepEqual(identity.callerEnv({ TEAM: 'ops' }, ANONYMOUS), { TEAM: 'ops' });
  const session = identity.callerEnv(client, alice);
  assert.deepEqual(envFor({ allowEnv: parseAllowList([]), remote: undefined }, session, identity.claimNames), { USER_EMAIL: 'alice@example.com' });
  assert.deepEqual(envFor({ allowEnv: parseAllowList(['TEAM']), remote: undefined }, session, identity.claimNames), session);
  assert.deepEqual(envFor({ allowEnv: parseAllowList(['TEAM']), remote: undefined }, session, new Set()), { TEAM: 'ops' });
});
