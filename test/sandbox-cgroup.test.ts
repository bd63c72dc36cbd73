import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '../src/observe/log.ts';
import { Child, killAllChildGroups, type ChildExit } from '../src/upstream/child.ts';
import { ChildCgroup, parseMemoryEvents, removeStaleCgroups } from '../src/upstream/sandbox/cgroup.ts';
import { DEFAULT_SANDBOX_SPEC, type SandboxSpec } from '../src/upstream/sandbox/options.ts';
import { buildPlan, type HostFacts, type SandboxPlan } from '../src/upstream/sandbox/plan.ts';
import { hostProbe } from './helpers/sandbox.ts';

const log = new Logger('error', 'text', { write: () => {} });
const NO_HOST: HostFacts = {
  isRoot: false,
  cgroup: { ok: false, reason: 'none' },
  bwrap: { ok: false, reason: 'not under test' },
  setpriv: { ok: false, reason: 'none' },
  user: undefined,
};

function fakeRoot(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'fake-cgroup-root-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function planFor(cgroup: HostFacts['cgroup'], over: Partial<SandboxSpec> = {}, limits: Partial<SandboxSpec['limits']> = {}): SandboxPlan {
  const spec = { ...DEFAULT_SANDBOX_SPEC, ...over, limits: { ...DEFAULT_SANDBOX_SPEC.limits, ...limits } };
  return buildPlan(spec, { ...NO_HOST, cgroup })!;
}

/** A child running `script` under `plan`; resolves its exit. stopGraceMs is short: the tests wait on it. */
function startChild(t: TestContext, plan: SandboxPlan, script: string) {
  let onExit!: (exit: ChildExit) => void;
  const exited = new Promise<ChildExit>((resolve) => { onExit = resolve; });
  const child = new Child(
    { command: '/bin/sh', args: ['-c', script], env: { PATH: '/usr/bin:/bin' }, maxMessageBytes: 1 << 20, maxStdinQueueBytes: 1 << 20, stopGraceMs: 200, log, sandbox: { plan, home: '/nonexistent' } },
    { message: () => {}, exit: onExit },
  );
  t.after(() => child.stop());
  return { child, exited };
}

/** Waits until `pid` is gone (or a zombie nobody reaps); false past the deadline. */
async function gone(pid: number, deadlineMs = 5_000): Promise<boolean> {
  for (const end = Date.now() + deadlineMs; Date.now() < end; await sleep(50)) {
    try {
      if (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z')) return true;
    } catch {
      return true;
    }
  }
  return false;
}

async function readPid(file: string): Promise<number> {
  for (const end = Date.now() + 5_000; Date.now() < end; await sleep(20)) {
    const text = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
    if (text !== '') return Number(text);
  }
  throw new Error(`no pid in ${file}`);
}

test('memory.events parsed as counters', () => {
  assert.deepEqual(parseMemoryEvents('low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 1\n'), { low: 0, high: 0, max: 12, oom: 1, oom_kill: 1, oom_group_kill: 1 });
  assert.deepEqual(parseMemoryEvents(''), {});
});

test('a child cgroup gets its limit files written (fake root)', (t) => {
  const root = fakeRoot(t);
  const cgroup = ChildCgroup.create(root, { memoryBytes: 1024 ** 3, cpus: 0.5, pids: 64 });
  const read = (file: string) => readFileSync(join(cgroup.dir, file), 'utf8');
  assert.equal(read('memory.max'), String(1024 ** 3));
  assert.equal(read('memory.swap.max'), '0');
  assert.equal(read('memory.oom.group'), '1');
  assert.equal(read('cpu.max'), '50000 100000');
  assert.equal(read('pids.max'), '64');
  assert.equal(cgroup.procsFile, join(cgroup.dir, 'cgroup.procs'));
  assert.notEqual(ChildCgroup.create(root, {}).dir, cgroup.dir, 'one cgroup per child');
});

test('a cgroup under a parent that refuses is an error naming the path', () => {
  assert.throws(() => ChildCgroup.create('/nonexistent-cgroup-root', { pids: 1 }), /ENOENT.*nonexistent-cgroup-root/);
});

test('an OOM kill in the child cgroup comes back as a memory breach on exit (fake memory.events)', async (t) => {
  const root = fakeRoot(t);
  const plan = planFor({ ok: true, dir: root, controllers: ['memory'] }, {}, { memoryBytes: 2 * 1024 ** 3 });
  const { child, exited } = startChild(t, plan, 'read line; exit 0');
  assert.equal(await child.spawned, undefined);
  const [dir] = readdirSync(root);
  // The wrapper joined first: its pid (kept by exec) is in the fake cgroup.procs.
  assert.equal(await readPid(join(root, dir!, 'cgroup.procs')), child.pid);
  writeFileSync(join(root, dir!, 'memory.events'), 'low 0\nhigh 0\nmax 40\noom 1\noom_kill 1\n');
  await child.stop();
  const exit = await exited;
  assert.deepEqual(exit.breach, { limit: 'memory', message: 'memory limit 2 GiB exceeded' });
});

test('no OOM kill, no breach', async (t) => {
  const root = fakeRoot(t);
  const { child, exited } = startChild(t, planFor({ ok: true, dir: root, controllers: ['memory'] }), 'read line; exit 0');
  await child.spawned;
  writeFileSync(join(root, readdirSync(root)[0]!, 'memory.events'), 'oom 0\noom_kill 0\n');
  await child.stop();
  assert.equal((await exited).breach, undefined);
});

test('a child past its CPU seconds reports a cpuSeconds breach', async (t) => {
  const { exited } = startChild(t, planFor({ ok: false, reason: 'none' }, {}, { cpuSeconds: 1 }), 'while :; do :; done');
  const exit = await exited;
  assert.equal(exit.breach?.limit, 'cpuSeconds', `signal ${exit.signal}`);
  assert.equal(exit.breach?.message, 'CPU time limit 1 s exceeded');
});

test('a child past its lifetime is stopped with a lifetime breach', async (t) => {
  const { exited } = startChild(t, planFor({ ok: false, reason: 'none' }, {}, { lifetimeMs: 300 }), 'read line');
  assert.deepEqual((await exited).breach, { limit: 'lifetime', message: 'lifetime limit 0.3 s reached' });
});

test('strict: a child whose cgroup cannot be made never runs its command', async (t) => {
  // A plan strict accepted at start (as on a fully capable host), whose cgroup then cannot be made.
  const accepted = planFor({ ok: true, dir: '/nonexistent-cgroup-root', controllers: [] });
  const plan = { ...accepted, spec: { ...accepted.spec, mode: 'strict' as const } };
  const { exited } = startChild(t, plan, 'echo ran >&2');
  const exit = await exited;
  assert.equal(exit.code, 126);
});

/** The real cgroup v2 subtree when this host lets us write one; the reason otherwise. */
async function realCgroup(t: TestContext): Promise<string | undefined> {
  const { cgroup } = await hostProbe();
  if (cgroup.ok) return cgroup.dir;
  // A host property, not an install step: CI on a cgroup v1 host runs the fake-root tests above instead.
  t.skip(`no writable cgroup v2 here (${cgroup.reason}); the fake-root tests cover the manager`);
  return undefined;
}

async function escapee(t: TestContext, parent: string) {
  const pidFile = join(fakeRoot(t), 'escaped.pid');
  // setsid: a new session and process group, out of reach of the group signals stop() sends.
  const script = `setsid sh -c 'echo $$ > "$1"; exec sleep 300' x ${pidFile} </dev/null >/dev/null 2>&1 & read line`;
  const started = startChild(t, planFor({ ok: true, dir: parent, controllers: [] }), script);
  const pid = await readPid(pidFile);
  t.after(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } });
  assert.notEqual(Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[4]), started.child.pid, 'escaped its process group');
  return { ...started, pid };
}

test('a child that escaped its process group with setsid is killed on stop through cgroup.kill (real cgroup v2)', async (t) => {
  const parent = await realCgroup(t);
  if (parent === undefined) return;
  const { child, pid } = await escapee(t, parent);
  const dir = readFileSync(`/proc/${pid}/cgroup`, 'utf8').match(/^0::(.*)$/m)![1]!;
  assert.match(dir, /mcpproxy-\d+-\d+$/, 'the escapee is still in the child cgroup');
  await child.stop();
  assert.ok(await gone(pid), 'escaped process still alive after stop');
  const cgroupDir = join(parent, dir.split('/').at(-1)!);
  for (const end = Date.now() + 5_000; existsSync(cgroupDir) && Date.now() < end;) await sleep(50);
  assert.ok(!existsSync(cgroupDir), 'child cgroup removed');
});

test('killAllChildGroups also ends what escaped, through the cgroups (real cgroup v2)', async (t) => {
  const parent = await realCgroup(t);
  if (parent === undefined) return;
  const { pid } = await escapee(t, parent);
  const dir = join(parent, readFileSync(`/proc/${pid}/cgroup`, 'utf8').match(/^0::.*\/(mcpproxy-[\d-]+)$/m)![1]!);
  killAllChildGroups();
  assert.ok(await gone(pid), 'escaped process still alive after killAllChildGroups');
  // The last-resort path does not wait to remove; the next start's sweep does, as here.
  await new ChildCgroup(dir).remove();
  assert.ok(!existsSync(dir), 'child cgroup removed');
});

test('the start-up sweep kills and removes child cgroups of a proxy that is gone (real cgroup v2)', async (t) => {
  const parent = await realCgroup(t);
  if (parent === undefined) return;
  const stale = join(parent, `mcpproxy-${2 ** 22 + 1}-1`); // a pid above any pid_max: never alive
  mkdirSync(stale);
  t.after(() => rmSync(stale, { force: true, recursive: false }));
  await removeStaleCgroups(parent);
  assert.ok(!existsSync(stale), 'stale child cgroup removed');
});

test('the start-up sweep leaves cgroups of live proxies and foreign names alone (fake root)', async (t) => {
  const root = fakeRoot(t);
  for (const name of [`mcpproxy-${process.pid}-1`, 'mcpproxy-1-1', 'other']) mkdirSync(join(root, name));
  await removeStaleCgroups(root);
  assert.deepEqual(readdirSync(root).sort(), [`mcpproxy-${process.pid}-1`, 'mcpproxy-1-1', 'other'].sort(), 'pid 1 is alive; others are not ours');
});
