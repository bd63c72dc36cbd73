// The servers file (src/config/config-file.ts, expand.ts, json-error-offset.ts) and namespacing (src/servers/aggregate/namespace.ts): pure tables.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigFileError, parseServersFile, type ServerDefaults } from '../src/config/config-file.ts';
import { parseCommandLine } from '../src/cli.ts';
import { expandVars, parseEnvFile } from '../src/config/expand.ts';
import { jsonErrorOffset } from '../src/config/json-error-offset.ts';
import { parseAllowList } from '../src/config/env-policy.ts';
import { DEFAULT_SANDBOX_SPEC } from '../src/upstream/sandbox/options.ts';
import { decodeCursor, encodeCursor, exposedName, exposedUri, memberUri } from '../src/servers/aggregate/namespace.ts';

const DEFAULTS: ServerDefaults = {
  shared: true, childPer: 'session', allowEnv: parseAllowList([]), upstreamProtocol: 'auto', requestTimeoutMs: 300_000, maxSessions: 0, lifecycle: 'eager', idleTimeoutMs: 600_000,
  sandbox: DEFAULT_SANDBOX_SPEC, envPassthrough: [],
};

function parse(value: unknown, env: Record<string, string> = {}) {
  return parseServersFile(typeof value === 'string' ? value : JSON.stringify(value), 'servers.json', env, DEFAULTS);
}

function refused(value: unknown, pattern: RegExp, env: Record<string, string> = {}): void {
  assert.throws(() => parse(value, env), (err: Error) => err instanceof ConfigFileError && pattern.test(err.message), `expected ${pattern}`);
}

test('a Claude Desktop file is taken unchanged, ${VAR} expanded, own keys default to the flags', () => {
  const { servers, warnings } = parse({
    mcpServers: {
      github: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-github'], env: { GITHUB_PERSONAL_ACCESS_TOKEN: '${GITHUB_TOKEN}' } },
      fs: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '${DATA:-/srv/data}'], type: 'stdio', cwd: '/tmp' },
      fetch: { command: 'uvx', args: ['mcp-server-fetch'], disabled: true, someClientKey: 1 },
    },
  }, { GITHUB_TOKEN: 'ghp_secret' });
  assert.deepEqual(servers.map((s) => s.name), ['github', 'fs', 'fetch']);
  assert.equal(servers[0]!.env.GITHUB_PERSONAL_ACCESS_TOKEN, 'ghp_secret');
  assert.equal(servers[1]!.args[2], '/srv/data');
  assert.equal(servers[1]!.cwd, '/tmp');
  assert.equal(servers[2]!.isDisabled, true);
  assert.equal(servers[0]!.prefix, 'github');
  assert.equal(servers[0]!.shared, true);
  assert.equal(servers[0]!.lifecycle, 'eager');
  assert.match(warnings.join('\n'), /server "fetch": unknown keys ignored: someClientKey/);
  assert.equal(parse({ servers: { a: { command: 'x' } } }).servers[0]!.name, 'a', "VS Code's servers key");
});

test('mcpproxy keys: mode, allowEnv, protocol, timeouts, tools filter, prefix, lifecycle', () => {
  const [spec] = parse({ mcpServers: { db: {
    command: 'db-mcp', mode: 'independent', allowEnv: ['DB_*'], upstreamProtocol: 'legacy', requestTimeout: 5, maxSessions: 3,
    tools: { deny: ['drop_*'] }, prefix: 'pg', lifecycle: 'lazy', idleTimeout: 30,
  } } }).servers;
  assert.equal(spec!.shared, false);
  assert.deepEqual(spec!.allowEnv.prefixes, ['DB_']);
  assert.equal(spec!.upstreamProtocol, 'legacy');
  assert.equal(spec!.requestTimeoutMs, 5000);
  assert.equal(spec!.maxSessions, 3);
  assert.deepEqual(spec!.filter, { allow: ['*'], deny: ['drop_*'] });
  assert.equal(spec!.prefix, 'pg');
  assert.equal(spec!.lifecycle, 'lazy');
  assert.equal(spec!.idleTimeoutMs, 30_000);
});

test('childPer: an independent entry picks a child per session or per principal; the flag is the default; a shared entry refuses it', () => {
  const { servers } = parse({ mcpServers: {
    mine: { command: 'x', mode: 'independent', childPer: 'principal' },
    theirs: { command: 'x', mode: 'independent' },
  } });
  assert.deepEqual(servers.map((s) => s.childPer), ['principal', 'session']);
  const byFlag = parseServersFile(JSON.stringify({ mcpServers: { a: { command: 'x', mode: 'independent' }, b: { command: 'x', mode: 'independent', childPer: 'session' } } }),
    'servers.json', {}, { ...DEFAULTS, childPer: 'principal' }).servers;
  assert.deepEqual(byFlag.map((s) => s.childPer), ['principal', 'session'], '--child-per is the default an entry may override');
  refused({ mcpServers: { a: { command: 'x', childPer: 'principal' } } }, /server "a": "childPer" needs mode "independent"/);
  refused({ mcpServers: { a: { command: 'x', mode: 'independent', childPer: 'user' } } }, /"childPer" must be one of session, principal/);
});

test('bad files: one message naming the place, never a secret value', () => {
  refused('{ "mcpServers": { "a": } }', /not valid JSON at line 1, column 24/);
  refused('{\n  "mcpServers": {\n    "a": { "command": "x", }\n  }\n}', /line 3, column 28/);
  refused({ mcpServers: { Bad_Name: { command: 'x' } } }, /server "Bad_Name": names are 1 to 24/);
  refused({ mcpServers: { a: { command: 'x', env: { T: '${UNSET_VAR}' } } } }, /server "a", env\.T: variable UNSET_VAR is not set/);
  refused({ mcpServers: { a: { command: 'node', type: 'sse' } } }, /server "a": "type" "sse" needs a "url"/);
  refused({ mcpServers: { a: { command: 'x', mode: 'both' } } }, /"mode" must be one of shared, independent/);
  refused({ mcpServers: { a: { args: [] } } }, /"command" is required/);
  refused({ mcpServers: {} }, /lists no server/);
  refused([], /expected a JSON object/);
});

test('--config with a command is a usage error; a bad file is exit 2 with one line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-cfg-'));
  try {
    const file = join(dir, 's.json');
    writeFileSync(file, '{"mcpServers":{"a":{"command":"x"}}}');
    let err = '';
    assert.deepEqual(parseCommandLine(['--host', '127.0.0.1', '--config', file, '--', 'node', 's.js'], {}, () => {}, (t) => { err += t; }), { kind: 'exit', code: 2 });
    assert.match(err, /--config and a command after "--" cannot be used together/);
    writeFileSync(file, '{"mcpServers":{"a":{"command":"${NOPE}"}}}');
    err = '';
    assert.deepEqual(parseCommandLine(['--host', '127.0.0.1', '--config', file], {}, () => {}, (t) => { err += t; }), { kind: 'exit', code: 2 });
    assert.match(err, /^mcpproxy: [^\n]*variable NOPE is not set[^\n]*\n$/);
    writeFileSync(join(dir, 'vars'), '# comment\nexport NOPE="node"\n');
    const ok = parseCommandLine(['--host', '127.0.0.1', '--config', file, '--env-file', join(dir, 'vars')], {}, () => {}, () => {});
    assert.equal(ok.kind === 'run' && ok.config.servers[0]!.command, 'node', '--env-file feeds the expansion');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('expansion and env files', () => {
  assert.equal(expandVars('a${X}b${Y:-dflt}', { X: '1' }, 'w'), 'a1bdflt');
  assert.throws(() => expandVars('${1BAD}', {}, 'w'), /not a valid variable reference/);
  assert.deepEqual(parseEnvFile("A=1\n\n# c\nexport B='two words'\n", 'f'), { A: '1', B: 'two words' });
  assert.throws(() => parseEnvFile('nope', 'f'), /f:1: expected NAME=VALUE/);
});

test('jsonErrorOffset points at the first bad character', () => {
  for (const [text, offset] of [['{"a":}', 5], ['[1,2', 4], ['{"a" 1}', 5], ['tru', 3], ['"x\\q"', 3], ['{} x', 3], ['{"a":[1,{"b":nul}]}', 16]] as const) {
    assert.equal(jsonErrorOffset(text), offset, text);
  }
  assert.equal(jsonErrorOffset('{"a":[1,2,{"b":null}]}'), -1);
});

test('namespacing: names fit ^[a-zA-Z0-9_-]{1,64}$ reversibly; URIs stay URIs', () => {
  assert.deepEqual(exposedName('github', 'create_issue'), { name: 'github__create_issue', isRenamed: false });
  assert.deepEqual(exposedName('', 'echo'), { name: 'echo', isRenamed: false });
  assert.deepEqual(exposedName('fs', 'read.file'), { name: 'fs__read_file', isRenamed: true });
  const long = exposedName('fault', `t${'x'.repeat(69)}`);
  assert.equal(long.name.length, 64);
  assert.match(long.name, /^fault__tx+_[0-9a-f]{8}$/);
  assert.notEqual(exposedName('fault', `t${'x'.repeat(69)}y`).name, long.name, 'the hash keeps long names apart');
  assert.equal(exposedUri('fs', 'file:///a'), 'fs+file:///a');
  assert.equal(memberUri('fs', 'fs+file:///a'), 'file:///a');
  assert.equal(memberUri('fs', 'gh+x://a'), undefined);
  assert.equal(decodeCursor(encodeCursor('b__tool')), 'b__tool');
  assert.equal(decodeCursor('%%%'), undefined);
});
