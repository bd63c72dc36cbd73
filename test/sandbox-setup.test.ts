// What turns a configured server into its sandbox (src/servers/sandbox-setup.ts), the flags and
// the servers file's `sandbox` key reaching it, and the usage figures (src/upstream/sandbox/usage.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCommandLine } from '../src/cli.ts';
import type { Config } from '../src/config/config.ts';
import type { ServerSpec } from '../src/config/server-spec.ts';
import { Metrics } from '../src/observe/metrics.ts';
import { childEnv } from '../src/servers/child-env.ts';
import { sandboxView } from '../src/servers/sandbox-view.ts';
import type { SandboxRun } from '../src/upstream/sandbox/launch.ts';
import { DEFAULT_SANDBOX_SPEC } from '../src/upstream/sandbox/options.ts';
import type { SandboxPlan } from '../src/upstream/sandbox/plan.ts';
import { parseProcStat, treeUsage, type ProcStat } from '../src/upstream/sandbox/usage.ts';

function config(args: string[], env: NodeJS.ProcessEnv = {}): Config | string {
  let err = '';
  const outcome = parseCommandLine(['--host', '127.0.0.1', ...args], env, () => {}, (text) => { err += text; });
  return outcome.kind === 'exit' ? err.trim() : outcome.config;
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-setup-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('flags set every server\'s sandbox; STATE_DIRECTORY is the state dir when --state-dir is not given', () => {
  const c = config(['--sandbox', 'strict', '--sandbox-memory', '1GiB', '--sandbox-network', 'off', '--sandbox-read', '/srv/a', '--sandbox-read', '/srv/b', '--sandbox-write', '/srv/out', '--package-credentials', '--', 'node', 's.js'], { STATE_DIRECTORY: '/var/lib/mcpproxy:/var/lib/other' });
  assert.ok(typeof c !== 'string', String(c));
  const { sandbox } = c.servers[0]!;
  assert.equal(sandbox.mode, 'strict');
  assert.equal(sandbox.limits.memoryBytes, 1024 ** 3);
  assert.equal(sandbox.network, 'off');
  assert.deepEqual([sandbox.readOnlyPaths, sandbox.writablePaths, sandbox.packageCredentials], [['/srv/a', '/srv/b'], ['/srv/out'], true]);
  assert.equal(sandbox.stateDir, '/var/lib/mcpproxy');
  assert.equal(c.stateDir, '/var/lib/mcpproxy');
  assert.equal((config(['--', 'x']) as Config).servers[0]!.sandbox.mode, 'auto');
});

test('a bad sandbox flag or key is one line naming it (exit 2)', (t) => {
  assert.equal(config(['--sandbox', 'maybe', '--', 'x']), 'mcpproxy: --sandbox: expected off, auto or strict, got "maybe"');
  assert.match(String(config(['--sandbox-memory', '1KiB', '--', 'x'])), /--sandbox-memory: 1KiB is below the 16MiB minimum/);
  const dir = tempDir(t);
  const file = join(dir, 'servers.json');
  writeFileSync(file, JSON.stringify({ mcpServers: { fetch: { command: 'x', sandbox: { memory: 'lots' } } } }));
  assert.match(String(config(['--config', file])), /server "fetch": servers\.fetch\.sandbox\.memory: expected a size/);
  writeFileSync(file, JSON.stringify({ mcpServers: { fetch: { command: 'x', sandbox: { network: 'off', writable: ['/srv/data'] } }, other: { command: 'y' } } }));
  const c = config(['--config', file, '--sandbox-cpus', '2', '--sandbox-write', '/srv/all']) as Config;
  assert.deepEqual(c.servers.map((s) => [s.sandbox.network, s.sandbox.limits.cpus, s.sandbox.writablePaths]), [['off', 2, ['/srv/all', '/srv/data']], ['on', 2, ['/srv/all']]]);
});

function spec(over: Partial<ServerSpec>): ServerSpec {
  const c = config(['--', 'x']) as Config;
  return { ...c.servers[0]!, ...over };
}

test('the view: a relative script as its package root, hidden files in it masked, the child starts where the proxy would', (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'app', 'lib'), { recursive: true });
  writeFileSync(join(dir, 'app', 'package.json'), '{}');
  writeFileSync(join(dir, 'app', 'lib', 'server.js'), '');
  writeFileSync(join(dir, 'app', 'servers.json'), '{}');
  const view = sandboxView(spec({ command: 'node', args: ['--inspect', 'lib/server.js', 'missing.js'] }), [join(dir, 'app', 'servers.json')], join(dir, 'app'));
  assert.deepEqual(view.readOnly, [join(dir, 'app')]);
  assert.deepEqual(view.masked, [{ path: join(dir, 'app', 'servers.json'), isDir: false }]);
  assert.equal(view.workDir, join(dir, 'app'));
  // A script in a home directory without package.json: that file alone, never the whole home.
  writeFileSync(join(dir, 'tool.js'), '');
  const alone = sandboxView(spec({ command: 'node', args: ['tool.js'] }), [], dir);
  assert.deepEqual(alone.readOnly, [join(dir, 'tool.js')]);
  assert.equal(alone.workDir, dir, 'the file\'s directory exists inside as its mount point');
  assert.equal(sandboxView(spec({ command: 'npx', args: ['-y', 'pkg'] }), [], dir).workDir, undefined, 'nothing of the cwd shown: start in the home');
});

test('a child gets a clean environment with or without bwrap; with the network off, npm and uv are told to stay offline', () => {
  process.env.MCPPROXY_TEST_SECRET = 'leak';
  try {
    const plan = { bwrap: { path: '/usr/bin/bwrap', isNetworkOff: true } } as SandboxPlan;
    const run: SandboxRun = { plan, home: '/h' };
    const env = childEnv(run, spec({ env: { TOKEN: 't' } }), { SESSION: 's' });
    assert.equal(env.MCPPROXY_TEST_SECRET, undefined);
    assert.equal(env.PATH, process.env.PATH);
    assert.deepEqual([env.TOKEN, env.SESSION, env.npm_config_offline, env.UV_OFFLINE], ['t', 's', 'true', '1']);
    const online = childEnv({ plan: { bwrap: { path: '/usr/bin/bwrap', isNetworkOff: false } } as SandboxPlan, home: '/h' }, spec({}), {});
    assert.equal(online.npm_config_offline, undefined);
    assert.equal(childEnv(undefined, spec({}), {}).MCPPROXY_TEST_SECRET, undefined, 'no bwrap: the same allow-list');
  } finally {
    delete process.env.MCPPROXY_TEST_SECRET;
  }
});

test('/proc stat lines: a command name with spaces and parentheses; a tree summed across a new session', () => {
  const line = '42 (node (x) y) S 1 42 42 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 11 0 100 1000000 300 18446744073709551615';
  assert.deepEqual(parseProcStat(line), { pid: 42, ppid: 1, pgrp: 42, cpuSeconds: 3, rssBytes: 300 * 4096 });
  const p = (pid: number, ppid: number, pgrp: number): ProcStat => ({ pid, ppid, pgrp, cpuSeconds: 1, rssBytes: 10 });
  // 10 leads the group; 11 is in it; 12 is bwrap's child in a new session; 13 its child; 20 unrelated.
  const stats = [p(10, 1, 10), p(11, 10, 10), p(12, 11, 12), p(13, 12, 12), p(20, 1, 20)];
  assert.deepEqual(treeUsage(stats, 10), { cpuSeconds: 4, rssBytes: 40 });
});

test('breaches are counted by server and limit; usage is rendered per server', () => {
  const metrics = new Metrics();
  metrics.childLimitBreached('fetch', 'memory');
  metrics.childLimitBreached('fetch', 'memory');
  metrics.childLimitBreached('fetch', 'lifetime');
  const text = metrics.render([{ server: 'fetch', sessions: {}, children: 1, pending: 0, isUp: true, usage: { cpuSeconds: 1.5, rssBytes: 2048 } }]);
  assert.match(text, /^mcpproxy_child_limit_breaches_total\{server="fetch",limit="memory"\} 2$/m);
  assert.match(text, /^mcpproxy_child_limit_breaches_total\{server="fetch",limit="lifetime"\} 1$/m);
  assert.match(text, /^mcpproxy_child_cpu_seconds\{server="fetch"\} 1.5$/m);
  assert.match(text, /^mcpproxy_child_memory_bytes\{server="fetch"\} 2048$/m);
  assert.equal(DEFAULT_SANDBOX_SPEC.mode, 'auto');
});
