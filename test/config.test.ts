// Flags and environment → Config (src/cli.ts parseCommandLine, src/config/config.ts buildConfig).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCommandLine, type CliOutcome } from '../src/cli.ts';
import { buildConfig, isLoopbackHost, type Config } from '../src/config/config.ts';
import { ConfigError } from '../src/config/flag-values.ts';
import type { ServerSpec } from '../src/config/server-spec.ts';

const SERVER = ['--', 'node', 'server.js'];

function parse(argv: string[], env: NodeJS.ProcessEnv = {}): { outcome: CliOutcome; out: string; err: string } {
  let out = '';
  let err = '';
  const outcome = parseCommandLine(argv, env, (text) => { out += text; }, (text) => { err += text; });
  return { outcome, out, err };
}

/** The global settings with the single server's beside them, as the single-command form has exactly one. */
function config(argv: string[], env: NodeJS.ProcessEnv = {}): Config & ServerSpec & { fixedEnv: Record<string, string> } {
  const { outcome, err } = parse(argv, env);
  assert.equal(outcome.kind, 'run', `expected a config, got exit with: ${err}`);
  const { config: c } = outcome as { config: Config };
  assert.equal(c.servers.length, 1);
  return { ...c, ...c.servers[0]!, fixedEnv: c.servers[0]!.env };
}

/** Asserts exit 2 with exactly one stderr line, and returns that line. */
function refused(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  const { outcome, out, err } = parse(argv, env);
  assert.deepEqual(outcome, { kind: 'exit', code: 2 }, `${argv.join(' ')} should be refused`);
  assert.equal(out, '');
  assert.match(err, /^mcpproxy: [^\n]+\n$/, `one line: ${JSON.stringify(err)}`);
  return err;
}

test('defaults on a loopback host', () => {
  const c = config(['--host', '127.0.0.1', ...SERVER]);
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.port, 8000);
  assert.equal(c.shared, true);
  assert.equal(c.authKey, undefined);
  assert.equal(c.heartbeatMs, 30_000);
  assert.equal(c.logLevel, 'info');
  assert.equal(c.logFormat, 'text');
  assert.equal(c.maxSessions, 0, 'shared mode: unlimited');
  assert.equal(c.requestTimeoutMs, 300_000);
  assert.equal(c.upstreamProtocol, 'auto');
  assert.equal(c.command, 'node');
  assert.deepEqual(c.args, ['server.js']);
});

test('environment variables apply when no flag is given, and flags win over them', () => {
  const env = {
    HOST: '127.0.0.2', PORT: '9000', HEARTBEAT: '5', LOG_LEVEL: 'debug', LOG_FORMAT: 'json', REQUEST_TIMEOUT: '1.5',
    MAX_SESSIONS: '7', INSTANCE_ID: 'east-1', AUTH_KEY: 'env-key-1234', CORS: '*', UPSTREAM_PROTOCOL: 'legacy',
  };
  const fromEnv = config(SERVER, env);
  assert.deepEqual(
    [fromEnv.host, fromEnv.port, fromEnv.heartbeatMs, fromEnv.logLevel, fromEnv.logFormat, fromEnv.requestTimeoutMs, fromEnv.maxSessions, fromEnv.instanceId, fromEnv.authKey, fromEnv.corsOrigins, fromEnv.upstreamProtocol],
    ['127.0.0.2', 9000, 5000, 'debug', 'json', 1500, 7, 'east-1', 'env-key-1234', ['*'], 'legacy'],
  );
  const fromFlags = config([
    '--host', '127.0.0.3', '--port', '9001', '--heartbeat', '0', '--log-level', 'warn', '--log-format', 'text', '--request-timeout', '2',
    '--max-sessions', '0', '--instance-id', 'west', '--auth-key', 'flag-key-5678', '--cors', 'https://a.example', '--upstream-protocol', 'modern',
    ...SERVER,
  ], env);
  assert.deepEqual(
    [fromFlags.host, fromFlags.port, fromFlags.heartbeatMs, fromFlags.logLevel, fromFlags.logFormat, fromFlags.requestTimeoutMs, fromFlags.maxSessions, fromFlags.instanceId, fromFlags.authKey, fromFlags.corsOrigins, fromFlags.upstreamProtocol],
    ['127.0.0.3', 9001, 0, 'warn', 'text', 2000, 0, 'west', 'flag-key-5678', ['https://a.example'], 'modern'],
  );
  // An empty variable counts as unset.
  assert.equal(config(SERVER, { HOST: '127.0.0.1', PORT: '' }).port, 8000);
});

test('the drain: --drain-delay 5 s and --shutdown-timeout 4 s by default (together inside Cloud Run\'s 10 s), env and flags', () => {
  const local = ['--host', '127.0.0.1', ...SERVER];
  const defaults = config(local);
  assert.deepEqual([defaults.drainDelayMs, defaults.shutdownTimeoutMs], [5000, 4000]);
  assert.ok(defaults.drainDelayMs + defaults.shutdownTimeoutMs < 10_000);
  const fromEnv = config(local, { DRAIN_DELAY: '2.5', SHUTDOWN_TIMEOUT: '6' });
  assert.deepEqual([fromEnv.drainDelayMs, fromEnv.shutdownTimeoutMs], [2500, 6000]);
  assert.equal(config(['--drain-delay', '0', ...local], { DRAIN_DELAY: '9' }).drainDelayMs, 0);
  assert.match(refused(['--drain-delay', 'soon', ...local]), /--drain-delay must be a number of seconds/);
});

test('SHARED_SESSION and --shared/--no-shared', () => {
  const cases: Array<{ argv: string[]; env: NodeJS.ProcessEnv; shared: boolean; maxSessions: number }> = [
    { argv: [], env: {}, shared: true, maxSessions: 0 },
    { argv: [], env: { SHARED_SESSION: 'false' }, shared: false, maxSessions: 100 },
    { argv: [], env: { SHARED_SESSION: '0' }, shared: false, maxSessions: 100 },
    { argv: [], env: { SHARED_SESSION: 'No' }, shared: false, maxSessions: 100 },
    { argv: [], env: { SHARED_SESSION: 'off' }, shared: false, maxSessions: 100 },
    { argv: [], env: { SHARED_SESSION: 'TRUE' }, shared: true, maxSessions: 0 },
    { argv: ['--no-shared'], env: {}, shared: false, maxSessions: 100 },
    { argv: ['--no-shared'], env: { SHARED_SESSION: 'true' }, shared: false, maxSessions: 100 },
    { argv: ['--shared'], env: { SHARED_SESSION: 'false' }, shared: true, maxSessions: 0 },
  ];
  for (const { argv, env, shared, maxSessions } of cases) {
    const c = config(['--host', '127.0.0.1', ...argv, ...SERVER], env);
    assert.equal(c.shared, shared, `${argv.join(' ')} ${JSON.stringify(env)}`);
    assert.equal(c.maxSessions, maxSessions);
  }
  assert.match(refused(['--host', '127.0.0.1', ...SERVER], { SHARED_SESSION: 'maybe' }), /SHARED_SESSION/);
});

test('the command: after "--" (its own flags untouched), or split from MCP_SERVER_CONFIG', () => {
  const local = { HOST: '127.0.0.1' };
  const passed = config(['--port', '1', '--', 'node', 'server.js', '--port', '5', '--shared'], local);
  assert.equal(passed.port, 1);
  assert.deepEqual([passed.command, ...passed.args], ['node', 'server.js', '--port', '5', '--shared']);

  const split = config([], { ...local, MCP_SERVER_CONFIG: `npx -y "@scope/server name" --root '/tmp/a b' plain\\ word` });
  assert.deepEqual([split.command, ...split.args], ['npx', '-y', '@scope/server name', '--root', '/tmp/a b', 'plain word']);

  const wins = config(['--', 'uvx', 'srv'], { ...local, MCP_SERVER_CONFIG: 'npx other' });
  assert.deepEqual([wins.command, ...wins.args], ['uvx', 'srv']);

  assert.match(refused([], { ...local, MCP_SERVER_CONFIG: 'npx "unterminated' }), /MCP_SERVER_CONFIG: unterminated " quote/);
  assert.match(refused([], { ...local, MCP_SERVER_CONFIG: '   ' }), /no server command/);
  assert.match(refused([], local), /no server command/);
});

test('bad values exit 2 with one line naming the flag', () => {
  const cases: Array<{ argv: string[]; env?: NodeJS.ProcessEnv; says: RegExp }> = [
    { argv: ['--port', '70000'], says: /--port must be a whole number from 0 to 65535, got "70000"/ },
    { argv: ['--port', 'abc'], says: /--port/ },
    { argv: ['--port', '1.5'], says: /--port/ },
    { argv: ['--port', '-1'], says: /--port/ },
    { argv: [], env: { PORT: '80a' }, says: /--port .*"80a"/ },
    { argv: ['--heartbeat', '-1'], says: /--heartbeat must be a number of seconds/ },
    { argv: ['--heartbeat', 'soon'], says: /--heartbeat/ },
    { argv: ['--request-timeout', ' '], says: /--request-timeout/ },
    { argv: ['--log-level', 'loud'], says: /--log-level must be one of error, warn, info, debug, got "loud"/ },
    { argv: ['--log-format', 'xml'], says: /--log-format/ },
    { argv: ['--upstream-protocol', 'new'], says: /--upstream-protocol/ },
    { argv: ['--max-body-bytes', '10'], says: /--max-body-bytes must be a whole number from 1024/ },
    { argv: ['--max-message-bytes', '1e9'], says: /--max-message-bytes/ },
    { argv: ['--max-sessions', 'many'], says: /--max-sessions/ },
    { argv: ['--replay-buffer', '-5'], says: /--replay-buffer/ },
    { argv: ['--instance-id', 'has space'], says: /--instance-id/ },
    { argv: ['--instance-id', 'x'.repeat(33)], says: /--instance-id/ },
    { argv: ['--allow-env', 'GOOD,BAD-NAME'], says: /--allow-env: "BAD-NAME"/ },
    { argv: ['--env', 'NOEQUALS'], says: /--env takes NAME=VALUE/ },
    { argv: ['--env', '1BAD=x'], says: /--env .*"1BAD"/ },
    { argv: ['--allow-origin', 'not a url'], says: /--allow-origin: "not a url"/ },
    { argv: ['--cors', 'file.txt'], says: /--cors/ },
    { argv: ['--bogus'], says: /unknown option '--bogus' \(see --help\)/ },
    { argv: ['--auth-key', '  '], says: /--auth-key must not be empty/ },
  ];
  for (const { argv, env, says } of cases) {
    assert.match(refused(['--host', '127.0.0.1', ...argv, ...SERVER], env), says, argv.join(' '));
  }
  // A flag missing its value at the end (before "--" commander would take "--" as the value).
  assert.match(refused(['--host', '127.0.0.1', '--port']), /--port <n>' argument missing \(see --help\)/);
});

test('a non-loopback host without an access key is refused unless --no-auth', () => {
  for (const host of ['0.0.0.0', '::', '192.168.1.5', 'example.com']) {
    assert.match(refused(['--host', host, ...SERVER]), new RegExp(`refusing to listen on ${host.replace(/\./g, '\\.')} without an access key`));
  }
  assert.match(refused(SERVER), /refusing to listen on 0\.0\.0\.0/, 'the default host is not loopback');
  assert.equal(config(['--host', '0.0.0.0', '--auth-key', 'k3y-value', ...SERVER]).authKey, 'k3y-value');
  assert.equal(config(['--host', '0.0.0.0', ...SERVER], { AUTH_KEY: 'from-env' }).authKey, 'from-env');
  const open = config(['--host', '0.0.0.0', '--no-auth', ...SERVER], { AUTH_KEY: 'ignored' });
  assert.equal(open.authKey, undefined, '--no-auth drops any key');
  for (const host of ['127.0.0.1', '127.3.2.1', 'localhost', 'LOCALHOST', '::1']) {
    assert.equal(config(['--host', host, ...SERVER]).authKey, undefined, host);
    assert.equal(isLoopbackHost(host), true, host);
  }
  assert.equal(isLoopbackHost('127.example.com'), false);
});

test('--auth-key-file and AUTH_KEY_FILE read the key, trimmed; a missing or empty file is refused', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = join(dir, 'key');
  const emptyFile = join(dir, 'empty');
  writeFileSync(keyFile, '  s3cret-from-file\n');
  writeFileSync(emptyFile, '\n');
  const remote = ['--host', '0.0.0.0'];
  assert.equal(config([...remote, '--auth-key-file', keyFile, ...SERVER]).authKey, 's3cret-from-file');
  assert.equal(config([...remote, ...SERVER], { AUTH_KEY_FILE: keyFile }).authKey, 's3cret-from-file');
  assert.equal(config([...remote, '--auth-key', 'direct-key', '--auth-key-file', keyFile, ...SERVER]).authKey, 'direct-key');
  assert.match(refused([...remote, '--auth-key-file', join(dir, 'missing'), ...SERVER]), /--auth-key-file: cannot read .*missing: ENOENT/);
  assert.match(refused([...remote, '--auth-key-file', emptyFile, ...SERVER]), /--auth-key-file: .*empty is empty/);
  const err = refused([...remote, '--auth-key-file', emptyFile, ...SERVER]);
  assert.doesNotMatch(err, /s3cret/);
});

test('--env is repeatable; --allow-env parses names, prefixes and *; origins are normalized', () => {
  const c = config([
    '--host', '127.0.0.1', '--env', 'A=1', '--env', 'B=x=y', '--env', 'EMPTY=',
    '--allow-env', 'API_KEY, TEAM_*', '--allow-origin', 'https://App.Example.com/path, http://localhost:3000',
    '--cors', '*', ...SERVER,
  ]);
  assert.deepEqual(c.fixedEnv, { A: '1', B: 'x=y', EMPTY: '' });
  assert.equal(c.allowEnv.any, false);
  assert.deepEqual([...c.allowEnv.exact], ['API_KEY']);
  assert.deepEqual(c.allowEnv.prefixes, ['TEAM_']);
  assert.deepEqual(c.allowOrigins, ['https://app.example.com', 'http://localhost:3000']);
  assert.deepEqual(c.corsOrigins, ['*']);
  assert.equal(config(['--host', '127.0.0.1', '--allow-env', '*', ...SERVER]).allowEnv.any, true);
});

test('--help and --version exit 0 on stdout', () => {
  const help = parse(['--help']);
  assert.deepEqual(help.outcome, { kind: 'exit', code: 0 });
  assert.match(help.out, /--auth-key-file/);
  assert.match(help.out, /SHARED_SESSION/);
  assert.equal(help.err, '');
  const version = parse(['--version']);
  assert.deepEqual(version.outcome, { kind: 'exit', code: 0 });
  assert.match(version.out, /^\d+\.\d+\.\d+/);
});

test('buildConfig throws ConfigError directly for its own callers', () => {
  assert.throws(() => buildConfig({ host: '127.0.0.1', port: 'x' }, ['node'], {}), ConfigError);
  assert.equal(buildConfig({ host: '127.0.0.1' }, ['node'], { PORT: '1234' }).port, 1234);
});
