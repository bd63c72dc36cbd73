import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Logger } from '../src/observe/log.ts';
import { Child } from '../src/upstream/child.ts';
import { prepareSandboxHost } from '../src/upstream/sandbox/host.ts';
import { bwrapArgs, SANDBOX_HOME } from '../src/upstream/sandbox/bwrap-args.ts';
import { launchSandboxed, prepareHome } from '../src/upstream/sandbox/launch.ts';
import { DEFAULT_SANDBOX_SPEC } from '../src/upstream/sandbox/options.ts';
import { buildPlan } from '../src/upstream/sandbox/plan.ts';
import { hostProbe, needBwrap } from './helpers/sandbox.ts';

const MERGED_USR = new Map([['/bin', 'usr/bin'], ['/lib', 'usr/lib']]);

/** `flag a b` triples (or pairs) in order, for matching without caring about neighbours. */
function hasRun(args: string[], run: string[]): boolean {
  return args.some((_, i) => run.every((part, j) => args[i + j] === part));
}

test('bwrap args: read-only system dirs, symlinks kept, allow-listed /etc, private home and /tmp', () => {
  const args = bwrapArgs({ home: '/state/homes/fetch', isNetworkOff: false, symlinks: MERGED_USR, readOnly: ['/srv/tool'] });
  for (const run of [
    ['--ro-bind-try', '/usr', '/usr'], ['--symlink', 'usr/bin', '/bin'], ['--symlink', 'usr/lib', '/lib'], ['--ro-bind-try', '/sbin', '/sbin'],
    ['--ro-bind-try', '/etc/ssl', '/etc/ssl'], ['--ro-bind-try', '/etc/resolv.conf', '/etc/resolv.conf'], ['--ro-bind', '/srv/tool', '/srv/tool'],
    ['--tmpfs', '/tmp'], ['--proc', '/proc'], ['--dev', '/dev'], ['--bind', '/state/homes/fetch', SANDBOX_HOME],
    ['--setenv', 'HOME', SANDBOX_HOME], ['--chdir', SANDBOX_HOME], ['--unshare-all', '--share-net'], ['--cap-drop', 'ALL'],
    ['--die-with-parent'], ['--new-session'],
  ]) assert.ok(hasRun(args, run), `missing ${run.join(' ')}`);
  assert.equal(args.at(-1), '--');
  assert.ok(!args.includes('/etc') && !args.includes('/root') && !args.includes('/opt'), 'no whole /etc, /root or /opt');
  assert.ok(!hasRun(args, ['--ro-bind-try', '/bin']), 'a symlinked dir is not bound as well');
});

test('bwrap args: network off keeps the network namespace unshared', () => {
  const args = bwrapArgs({ home: '/h', isNetworkOff: true, symlinks: new Map() });
  assert.ok(args.includes('--unshare-all'));
  assert.ok(!args.includes('--share-net'));
});

/** Runs `script` with sh inside the sandbox a plan for this host gives; returns its output. */
async function inSandbox(script: string, opts: { network?: 'on' | 'off'; user?: string; env?: NodeJS.ProcessEnv } = {}) {
  const host = await hostProbe();
  const spec = { ...DEFAULT_SANDBOX_SPEC, network: opts.network ?? 'on', user: opts.user };
  // The plan is built without the cgroup and without a user unless asked: each test looks at one thing.
  const plan = buildPlan(spec, { ...host, cgroup: { ok: false, reason: 'not under test' }, user: opts.user === undefined ? undefined : host.user })!;
  const state = mkdtempSync(join(tmpdir(), 'sandbox-state-'));
  chmodSync(state, 0o711); // as an operator's state dir would be, so a sandbox user can reach its home
  const home = prepareHome(state, 'fetch', plan.runAs);
  try {
    const launch = launchSandboxed({ plan, home }, '/bin/sh', ['-c', script]);
    const run = spawnSync(launch.command, launch.args, { env: opts.env ?? { PATH: '/usr/bin:/bin' }, encoding: 'utf8', timeout: 20_000 });
    return { status: run.status, stdout: run.stdout.trim(), stderr: run.stderr.trim(), home };
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}

test('inside bwrap: / is read-only, the home is writable', async (t) => {
  if (!(await needBwrap(t))) return;
  const run = await inSandbox('touch /usr/mcpproxy-probe 2>/dev/null && echo usr-writable; echo hi > ~/note && cat ~/note; pwd');
  assert.deepEqual(run.stdout.split('\n'), ['hi', SANDBOX_HOME], run.stderr);
});

test('inside bwrap: secrets, /root, /etc as a whole and other files are absent; /tmp is private', async (t) => {
  if (!(await needBwrap(t))) return;
  const secretDir = mkdtempSync(join('/var/tmp', 'mcpproxy-secret-'));
  const secret = join(secretDir, 'key');
  writeFileSync(secret, 'hunter2');
  const hostTmp = mkdtempSync(join(tmpdir(), 'host-tmp-'));
  t.after(() => rmSync(secretDir, { recursive: true, force: true }));
  t.after(() => rmSync(hostTmp, { recursive: true, force: true }));
  const run = await inSandbox(
    `for p in ${secret} /root /etc/shadow /etc/hostname ${hostTmp} /work; do [ -e "$p" ] && echo "present $p"; done; ls -A /tmp | wc -l; [ -e /etc/ssl ] && echo tls`,
  );
  assert.deepEqual(run.stdout.split('\n'), ['0', 'tls'], run.stderr);
});

test('inside bwrap with network off: only lo', async (t) => {
  if (!(await needBwrap(t))) return;
  const devices = (text: string) => text.split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter((d) => d !== '');
  const off = await inSandbox('cat /proc/net/dev', { network: 'off' });
  assert.deepEqual(devices(off.stdout), ['lo'], off.stderr);
  const on = await inSandbox('cat /proc/net/dev', { network: 'on' });
  assert.equal(on.status, 0, on.stderr);
});

test('inside bwrap: capabilities are gone, so remounting / read-write fails', async (t) => {
  if (!(await needBwrap(t))) return;
  const run = await inSandbox('mount -o remount,rw / 2>&1 && echo REMOUNTED; mount -o remount,rw /usr 2>&1 && echo REMOUNTED; grep CapEff /proc/self/status');
  assert.ok(!run.stdout.includes('REMOUNTED'), run.stdout);
  assert.match(run.stdout, /CapEff:\s+0000000000000000/);
});

test('inside bwrap: the environment is exactly the one given, plus HOME, PWD and TMPDIR', async (t) => {
  if (!(await needBwrap(t))) return;
  const run = await inSandbox('env | sort', { env: { PATH: '/usr/bin:/bin', API_TOKEN: 'abc' } });
  assert.deepEqual(run.stdout.split('\n'), ['API_TOKEN=abc', `HOME=${SANDBOX_HOME}`, 'PATH=/usr/bin:/bin', `PWD=${SANDBOX_HOME}`, 'TMPDIR=/tmp'], run.stderr);
});

test('as root with a sandbox user: the child runs as that user in its own home', async (t) => {
  if (!(await needBwrap(t))) return;
  const host = await hostProbe();
  if (!host.isRoot) return t.skip('not root: nothing to drop');
  assert.ok(host.user?.ok, 'user nobody resolves');
  const run = await inSandbox('id -u; echo ok > ~/written && cat ~/written', { user: 'nobody' });
  assert.deepEqual(run.stdout.split('\n'), [String(host.user.uid), 'ok'], run.stderr);
});

test('a Child under the full plan for this host speaks JSON-RPC, and stop() leaves no process behind', async (t) => {
  if (!(await needBwrap(t))) return;
  const host = await prepareSandboxHost();
  const plan = buildPlan({ ...DEFAULT_SANDBOX_SPEC, network: 'off' }, host)!;
  const state = mkdtempSync(join(tmpdir(), 'sandbox-state-'));
  t.after(() => rmSync(state, { recursive: true, force: true }));
  const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
  const messages: unknown[] = [];
  const child = new Child({
    command: process.execPath, args: [join(fixtures, 'fault-server.mjs')], env: { PATH: '/usr/bin:/bin' },
    maxMessageBytes: 1 << 20, maxStdinQueueBytes: 1 << 20, stopGraceMs: 500,
    log: new Logger('error', 'text', { write: () => {} }),
    sandbox: { plan, home: prepareHome(state, 'fixture', plan.runAs), readOnly: [fixtures] },
  }, { message: (msg) => messages.push(msg), exit: () => {} });
  t.after(() => child.stop());
  assert.equal(await child.spawned, undefined);
  child.send({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
  for (const end = Date.now() + 10_000; messages.length === 0 && Date.now() < end;) await sleep(20);
  assert.equal((messages[0] as { id?: unknown }).id, 0, 'initialize answered from inside the sandbox');
  const descendants = (pid: number): number[] => {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((p) => p !== '').map(Number);
    return kids.flatMap((kid) => [kid, ...descendants(kid)]);
  };
  const tree = [child.pid!, ...descendants(child.pid!)];
  assert.ok(tree.length >= 2, 'bwrap and the server under it');
  const exit = await child.stop();
  assert.equal(exit.breach, undefined);
  for (const pid of tree) {
    for (const end = Date.now() + 5_000; existsSync(`/proc/${pid}`) && Date.now() < end;) await sleep(50);
    assert.ok(!existsSync(`/proc/${pid}`), `pid ${pid} survived stop`);
  }
});
