import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_SANDBOX_SPEC, type SandboxSpec } from '../src/upstream/sandbox/options.ts';
import { buildPlan, describePlan, SandboxUnenforcedError, type HostFacts } from '../src/upstream/sandbox/plan.ts';

const FULL: HostFacts = {
  isRoot: true,
  cgroup: { ok: true, dir: '/sys/fs/cgroup/mcpproxy.service', controllers: ['memory', 'cpu', 'pids'] },
  bwrap: { ok: true, path: '/usr/bin/bwrap' },
  setpriv: { ok: true, path: '/usr/bin/setpriv' },
  user: { ok: true, name: 'mcp', uid: 990, gid: 990 },
};
const BARE: HostFacts = {
  isRoot: false,
  cgroup: { ok: false, reason: 'no cgroup v2 mount' },
  bwrap: { ok: false, reason: 'bwrap is not installed' },
  setpriv: { ok: false, reason: 'setpriv is not installed' },
  user: undefined,
};
const spec = (over: Partial<SandboxSpec> = {}, limits: Partial<SandboxSpec['limits']> = {}): SandboxSpec =>
  ({ ...DEFAULT_SANDBOX_SPEC, ...over, limits: { ...DEFAULT_SANDBOX_SPEC.limits, ...limits } });

test('off builds no plan, whatever the host', () => {
  assert.equal(buildPlan(spec({ mode: 'off' }), FULL), undefined);
  assert.equal(buildPlan(spec({ mode: 'off' }), BARE), undefined);
});

test('which mechanism enforces each control, host by host', () => {
  const table: Array<{ name: string; host: HostFacts; spec: SandboxSpec; enforced: string; unenforced: string[] }> = [
    {
      name: 'delegated cgroup v2, bwrap, root with a sandbox user',
      host: FULL, spec: spec({ network: 'off' }, { nofile: 1024, cpuSeconds: 60, lifetimeMs: 1000 }),
      enforced: 'memory=cgroup cpus=cgroup pids=cgroup nofile=rlimit cpuSeconds=rlimit lifetime=timer filesystem=bwrap network=bwrap user=setpriv',
      unenforced: [],
    },
    {
      name: 'nothing but sh: monitoring only, rlimits still apply',
      host: BARE, spec: spec({ network: 'off' }, { nofile: 64 }),
      enforced: 'nofile=rlimit',
      unenforced: ['memory', 'cpus', 'pids', 'filesystem', 'network'],
    },
    {
      name: 'cgroup v2 writable but controllers bound to v1 (hybrid host)',
      host: { ...FULL, cgroup: { ok: true, dir: '/sys/fs/cgroup/unified', controllers: [] } }, spec: spec(),
      enforced: 'filesystem=bwrap user=setpriv',
      unenforced: ['memory', 'cpus', 'pids'],
    },
    {
      name: 'root without --sandbox-user',
      host: { ...FULL, user: undefined }, spec: spec(),
      enforced: 'memory=cgroup cpus=cgroup pids=cgroup filesystem=bwrap',
      unenforced: ['user'],
    },
    {
      name: 'not root: no user to drop to, none needed',
      host: { ...FULL, isRoot: false, user: undefined }, spec: spec(),
      enforced: 'memory=cgroup cpus=cgroup pids=cgroup filesystem=bwrap',
      unenforced: [],
    },
  ];
  for (const row of table) {
    const plan = buildPlan(row.spec, row.host)!;
    assert.equal(describePlan(plan).enforced, row.enforced, row.name);
    assert.deepEqual(plan.unenforced.map((u) => u.control), row.unenforced, row.name);
  }
});

test('the plan carries what each mechanism needs', () => {
  const plan = buildPlan(spec({ network: 'off' }, { memoryBytes: 1024 ** 3, cpus: 0.5, pids: 64, nofile: 100, cpuSeconds: 5, lifetimeMs: 9000 }), FULL)!;
  assert.deepEqual(plan.cgroup, { parent: '/sys/fs/cgroup/mcpproxy.service', memoryBytes: 1024 ** 3, cpus: 0.5, pids: 64 });
  assert.deepEqual(plan.rlimits, { nofile: 100, cpuSeconds: 5 });
  assert.deepEqual(plan.bwrap, { path: '/usr/bin/bwrap', isNetworkOff: true });
  assert.deepEqual(plan.runAs, { uid: 990, gid: 990, setpriv: '/usr/bin/setpriv' });
  assert.equal(plan.lifetimeMs, 9000);
});

test('a writable cgroup without controllers is still used, for cgroup.kill', () => {
  const plan = buildPlan(spec(), { ...BARE, cgroup: { ok: true, dir: '/cg', controllers: [] } })!;
  assert.deepEqual(plan.cgroup, { parent: '/cg' });
});

test('unenforced controls say why', () => {
  const plan = buildPlan(spec({ network: 'off' }), { ...BARE, cgroup: { ok: true, dir: '/cg', controllers: ['pids'] } })!;
  assert.deepEqual(plan.unenforced, [
    { control: 'memory', reason: 'cgroup memory controller not enabled in /cg; RLIMIT_AS is not used' },
    { control: 'cpus', reason: 'cgroup cpu controller not enabled in /cg' },
    { control: 'filesystem', reason: 'bwrap is not installed' },
    { control: 'network', reason: 'bwrap is not installed' },
  ]);
});

test('strict refuses naming every control it cannot enforce', () => {
  assert.throws(() => buildPlan(spec({ mode: 'strict' }), { ...FULL, user: undefined }), (err: unknown) => {
    assert.ok(err instanceof SandboxUnenforcedError);
    assert.equal(err.code, 'SANDBOX_UNENFORCED');
    assert.deepEqual(err.controls, ['user']);
    assert.match(err.message, /sandbox strict: cannot enforce user \(running as root and no --sandbox-user given\)/);
    return true;
  });
  assert.throws(() => buildPlan(spec({ mode: 'strict', network: 'off' }), BARE), /cannot enforce memory .*; cpus .*; pids .*; filesystem .*; network \(bwrap is not installed\)/);
  assert.ok(buildPlan(spec({ mode: 'strict' }), FULL));
});
