// A child's environment (src/servers/child-env.ts): an allow-list with or without a sandbox, never the
// proxy's own settings; --env-passthrough; package managers' variables without their credentials.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCommandLine } from '../src/cli.ts';
import { ENV_VARS, PROXY_ENV_NAMES, type Config } from '../src/config/config.ts';
import { IDENTITY_ENV_VARS } from '../src/config/identity-config.ts';
import type { ServerSpec } from '../src/config/server-spec.ts';
import { childEnv, envSource } from '../src/servers/child-env.ts';
import type { SandboxRun } from '../src/upstream/sandbox/launch.ts';
import type { SandboxPlan } from '../src/upstream/sandbox/plan.ts';
import { connectClient, EVERYTHING, startProxy, textOf } from './helpers/proxy.ts';
import { needBwrap } from './helpers/sandbox.ts';

function config(args: string[], env: NodeJS.ProcessEnv = {}): Config | string {
  let err = '';
  const outcome = parseCommandLine(['--host', '127.0.0.1', ...args], env, () => {}, (text) => { err += text; });
  return outcome.kind === 'exit' ? err.trim() : outcome.config;
}

function spec(args: string[] = [], over: Partial<ServerSpec> = {}, env: NodeJS.ProcessEnv = {}): ServerSpec {
  const c = config([...args, '--', 'x'], env);
  assert.ok(typeof c !== 'string', String(c));
  return { ...c.servers[0]!, ...over };
}

const BWRAP: SandboxRun = { plan: { bwrap: { path: '/usr/bin/bwrap', isNetworkOff: false } } as SandboxPlan, home: '/h', readOnly: ['/srv/app'] };

/** What a proxy's environment typically holds: its own settings, a shell's, a container's, npm's. */
const HOST: NodeJS.ProcessEnv = {
  AUTH_KEY: 'k3y', AUTH_KEY_FILE: '/etc/mcpproxy/key', MCP_SERVER_CONFIG: 'npx -y x', OAUTH_CLIENT_CREDENTIALS_FILE: '/etc/c', SANDBOX: 'auto',
  PATH: '/usr/bin:/bin', HOME: '/root', USER: 'root', LOGNAME: 'root', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', TZ: 'UTC', TMPDIR: '/var/tmp',
  TERM: 'xterm', SSH_AUTH_SOCK: '/tmp/agent', AWS_SECRET_ACCESS_KEY: 'aws', GITHUB_TOKEN: 'gh', OLDPWD: '/',
  npm_config_registry: 'https://user:pa55@registry.example.com/', npm_config__authToken: 'npm-tok', 'npm_config_//registry.example.com/:_authToken': 'npm-tok2',
  npm_config_cache: '/root/.npm', npm_config_fund: 'false', npm_package_name: 'mcpproxy', npm_lifecycle_script: 'node x',
  PIP_INDEX_URL: 'https://me:secret@pypi.example.com/simple', PIP_DEFAULT_TIMEOUT: '60', UV_INDEX_PRIVATE_PASSWORD: 'uvpw', UV_CACHE_DIR: '/srv/app/.uv', UV_TOOL_DIR: '/root/.local/share/uv/tools',
  NODE_EXTRA_CA_CERTS: '/etc/ssl/corp.pem', https_proxy: 'http://proxy.example:3128', NODE_OPTIONS: '--require /x.js',
};

test('the allow-list: what a process needs and the package managers\' settings; nothing else of the proxy\'s', () => {
  for (const run of [undefined, BWRAP]) {
    const env = childEnv(run, spec(), {}, HOST);
    assert.deepEqual(Object.keys(env).sort(), [
      'HOME', 'LANG', 'LC_ALL', 'LOGNAME', 'NODE_EXTRA_CA_CERTS', 'PATH', 'PIP_DEFAULT_TIMEOUT', 'PIP_INDEX_URL', 'TMPDIR', 'TZ', 'USER',
      ...(run === undefined ? ['UV_CACHE_DIR', 'UV_TOOL_DIR', 'npm_config_cache'] : ['UV_CACHE_DIR']), 'https_proxy', 'npm_config_fund', 'npm_config_registry',
    ].sort(), run === undefined ? 'no sandbox' : 'bwrap');
    assert.equal(env.npm_config_registry, 'https://registry.example.com/', 'userinfo taken out of a URL');
    assert.equal(env.PIP_INDEX_URL, 'https://pypi.example.com/simple');
  }
  // Under bwrap a path the child cannot see is left out (npx would fail on /root/.npm, uvx on the host's
  // tool dir: it uses ~/.local/share/uv/tools in the sandbox home instead); one it sees stays.
  assert.equal(childEnv(BWRAP, spec(), {}, HOST).UV_CACHE_DIR, '/srv/app/.uv');
});

test('the proxy\'s own variables are those its configuration tables read, and none ever reaches a child', () => {
  for (const name of [...Object.values(ENV_VARS), ...Object.values(IDENTITY_ENV_VARS), 'MCP_SERVER_CONFIG', 'STATE_DIRECTORY']) {
    assert.ok(PROXY_ENV_NAMES.has(name), name);
    assert.equal(envSource(name), undefined, name);
  }
  assert.match(String(config(['--env-passthrough', 'GITHUB_TOKEN,AUTH_KEY', '--', 'x'])), /--env-passthrough: AUTH_KEY is the proxy's own configuration/);
  assert.match(String(config(['--env-passthrough', 'BAD-NAME', '--', 'x'])), /--env-passthrough: "BAD-NAME" is not a variable name/);
});

test('--env-passthrough (or ENV_PASSTHROUGH) adds names verbatim; the server\'s env and the session\'s come last', () => {
  const passing = spec(['--env-passthrough', 'GITHUB_TOKEN,TERM', '--env', 'TZ=Europe/Paris']);
  const env = childEnv(undefined, passing, { SESSION_VAR: 's' }, HOST);
  assert.deepEqual([env.GITHUB_TOKEN, env.TERM, env.TZ, env.SESSION_VAR, env.AWS_SECRET_ACCESS_KEY], ['gh', 'xterm', 'Europe/Paris', 's', undefined]);
  assert.deepEqual(spec([], {}, { ENV_PASSTHROUGH: 'GITHUB_TOKEN' }).envPassthrough, ['GITHUB_TOKEN']);
});

test('package credentials pass only when the operator says so (--package-credentials, sandbox.packageCredentials)', () => {
  const keeping = spec(['--package-credentials']);
  assert.equal(keeping.sandbox.packageCredentials, true);
  const env = childEnv(undefined, keeping, {}, HOST);
  assert.deepEqual([env.npm_config__authToken, env.UV_INDEX_PRIVATE_PASSWORD, env.npm_config_registry], ['npm-tok', 'uvpw', 'https://user:pa55@registry.example.com/']);
  assert.equal(env.AUTH_KEY, undefined, 'never the proxy\'s own key');
});

const SECRET_ENV = { AUTH_KEY: 'secret-key-7f3e', MCP_SERVER_CONFIG: 'node never-run.js', MCPPROXY_TEST_PASS: 'passed-through', MCPPROXY_TEST_OTHER: 'not-passed' };

async function everythingEnv(t: { after(fn: () => unknown): void }, sandbox: string): Promise<Record<string, string>> {
  const proxy = await startProxy(['--sandbox', sandbox, '--env-passthrough', 'MCPPROXY_TEST_PASS', '--', process.execPath, EVERYTHING], { env: SECRET_ENV });
  t.after(() => proxy.stop());
  const { client } = await connectClient(proxy.url, 'streamable', { headers: { authorization: `Bearer ${SECRET_ENV.AUTH_KEY}` } });
  t.after(() => client.close());
  return JSON.parse(textOf(await client.callTool({ name: 'get-env', arguments: {} })));
}

for (const sandbox of ['off', 'auto']) {
  test(`--sandbox ${sandbox}: server-everything's get-env shows no AUTH_KEY or MCP_SERVER_CONFIG, and the passthrough name`, { timeout: 60_000 }, async (t) => {
    if (sandbox === 'auto' && !(await needBwrap(t))) return;
    const env = await everythingEnv(t, sandbox);
    assert.equal(env.MCPPROXY_TEST_PASS, 'passed-through');
    assert.ok(env.PATH !== undefined && env.PATH !== '', 'PATH is there: the allow-list is not empty');
    for (const name of ['AUTH_KEY', 'MCP_SERVER_CONFIG', 'MCPPROXY_TEST_OTHER', 'SANDBOX']) assert.equal(env[name], undefined, name);
    assert.ok(!JSON.stringify(env).includes(SECRET_ENV.AUTH_KEY), 'the key under no name');
  });
}
