import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_SANDBOX_SPEC, parseBytes, parseSandboxConfig, parseSandboxFlags } from '../src/upstream/sandbox/options.ts';

const GiB = 1024 ** 3;

test('no flags: auto, 2 GiB, 1 CPU, 256 processes, network on', () => {
  assert.deepEqual(parseSandboxFlags({}), DEFAULT_SANDBOX_SPEC);
  assert.equal(DEFAULT_SANDBOX_SPEC.limits.memoryBytes, 2 * GiB);
});

test('flags set every field', () => {
  const spec = parseSandboxFlags({
    sandbox: 'strict', sandboxUser: 'mcp', stateDir: '/var/lib/mcpproxy', sandboxMemory: '512MiB', sandboxCpus: '0.5',
    sandboxPids: '64', sandboxNofile: '1024', sandboxCpuSeconds: '600', sandboxLifetime: '3600', sandboxNetwork: 'off',
    sandboxRead: ['/srv/data'], sandboxWrite: ['/srv/out'], packageCredentials: true,
  });
  assert.deepEqual(spec, {
    mode: 'strict', user: 'mcp', stateDir: '/var/lib/mcpproxy', network: 'off', readOnlyPaths: ['/srv/data'], writablePaths: ['/srv/out'], packageCredentials: true,
    limits: { memoryBytes: 512 * 1024 ** 2, cpus: 0.5, pids: 64, nofile: 1024, cpuSeconds: 600, lifetimeMs: 3_600_000 },
  });
});

test('sizes in binary units', () => {
  const table: Array<[string, number]> = [
    ['2GiB', 2 * GiB], ['2G', 2 * GiB], ['2 gb', 2 * GiB], ['1.5GiB', 1.5 * GiB], ['64M', 64 * 1024 ** 2], ['33554432', 32 * 1024 ** 2],
  ];
  for (const [text, bytes] of table) assert.equal(parseBytes(text, 'x'), bytes, text);
});

test('bad flag values fail naming the flag and the value', () => {
  const table: Array<[Parameters<typeof parseSandboxFlags>[0], RegExp]> = [
    [{ sandbox: 'on' }, /--sandbox: expected off, auto or strict, got "on"/],
    [{ sandboxMemory: '2 lots' }, /--sandbox-memory: expected a size/],
    [{ sandboxMemory: '1M' }, /--sandbox-memory: 1M is below the 16MiB minimum/],
    [{ sandboxCpus: '0' }, /--sandbox-cpus: expected a number of CPUs of at least 0.01, got "0"/],
    [{ sandboxCpus: '-1' }, /--sandbox-cpus/],
    [{ sandboxPids: '1.5' }, /--sandbox-pids: expected a whole number/],
    [{ sandboxNofile: '0' }, /--sandbox-nofile: expected a whole number of at least 1/],
    [{ sandboxLifetime: '1h' }, /--sandbox-lifetime: expected a whole number/],
    [{ sandboxNetwork: 'none' }, /--sandbox-network: expected on or off, got "none"/],
    [{ sandboxUser: 'a b' }, /--sandbox-user: expected a user name or numeric uid/],
    [{ stateDir: 'state' }, /--state-dir: expected an absolute path, got "state"/],
  ];
  for (const [flags, message] of table) assert.throws(() => parseSandboxFlags(flags), message);
});

test('a server sandbox key overrides the flags: a mode string or an object', () => {
  const base = parseSandboxFlags({ sandboxUser: 'mcp', sandboxMemory: '1GiB' });
  assert.equal(parseSandboxConfig(undefined, base, 'servers.fetch.sandbox'), base);
  assert.deepEqual(parseSandboxConfig('off', base, 'servers.fetch.sandbox'), { ...base, mode: 'off' });
  const spec = parseSandboxConfig({ memory: '256MiB', cpus: 2, pids: 32, network: 'off', lifetime: 60 }, base, 'servers.fetch.sandbox');
  assert.equal(spec.mode, 'auto');
  assert.equal(spec.user, 'mcp');
  assert.equal(spec.network, 'off');
  assert.deepEqual(spec.limits, { memoryBytes: 256 * 1024 ** 2, cpus: 2, pids: 32, nofile: undefined, cpuSeconds: undefined, lifetimeMs: 60_000 });
  assert.equal(parseSandboxConfig({ memory: 268435456 }, base, 's').limits.memoryBytes, 256 * 1024 ** 2);
});

test('bad server sandbox keys fail naming the key', () => {
  const table: Array<[unknown, RegExp]> = [
    ['strictest', /servers.a.sandbox: expected off, auto or strict, got "strictest"/],
    [[], /servers.a.sandbox: expected "off", "auto", "strict" or an object/],
    [{ memroy: '1GiB' }, /servers.a.sandbox.memroy: unknown key/],
    [{ cpus: true }, /servers.a.sandbox.cpus: expected a string or a number, got true/],
    [{ network: false }, /servers.a.sandbox.network: expected a string or a number/],
    [{ pids: 0 }, /servers.a.sandbox.pids: expected a whole number of at least 1, got "0"/],
  ];
  for (const [value, message] of table) assert.throws(() => parseSandboxConfig(value, DEFAULT_SANDBOX_SPEC, 'servers.a.sandbox'), message);
});
