import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prepareSandboxHost } from '../src/upstream/sandbox/host.ts';
import { cgroup2Mount, resolveUser } from '../src/upstream/sandbox/probe.ts';
import { buildPlan } from '../src/upstream/sandbox/plan.ts';
import { DEFAULT_SANDBOX_SPEC } from '../src/upstream/sandbox/options.ts';

test('the cgroup2 mount point, from mountinfo on unified, hybrid and v1-only hosts', () => {
  const unified = '30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n';
  const hybrid = [
    '40 31 0:35 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '41 31 0:36 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  ].join('\n');
  const v1 = '40 31 0:35 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n';
  assert.equal(cgroup2Mount(unified), '/sys/fs/cgroup');
  assert.equal(cgroup2Mount(hybrid), '/sys/fs/cgroup/unified');
  assert.equal(cgroup2Mount(v1), undefined);
});

test('a sandbox user by name or uid, or the reason it is unknown', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/bash\nmcp:x:990:985::/var/lib/mcp:/usr/sbin/nologin\n';
  assert.deepEqual(resolveUser('mcp', passwd), { ok: true, name: 'mcp', uid: 990, gid: 985 });
  assert.deepEqual(resolveUser('990', passwd), { ok: true, name: 'mcp', uid: 990, gid: 985 });
  assert.deepEqual(resolveUser('ghost', passwd), { ok: false, reason: '--sandbox-user ghost is not in /etc/passwd' });
});

test('this host, probed for real: every part found or a reason, and a plan auto accepts', async (t) => {
  const host = await prepareSandboxHost({ user: 'nobody' });
  for (const part of [host.cgroup, host.bwrap, host.setpriv]) assert.ok(part.ok || part.reason.length > 0);
  const plan = buildPlan(DEFAULT_SANDBOX_SPEC, host)!;
  assert.equal(plan.enforced.length + plan.unenforced.length >= 4, true);
  // What this host allows goes to the test log, for the record.
  t.diagnostic(`sandbox on this host: cgroup=${host.cgroup.ok ? `${host.cgroup.dir} [${host.cgroup.controllers.join(',')}]` : host.cgroup.reason}` +
    ` bwrap=${host.bwrap.ok ? 'works' : host.bwrap.reason} root=${host.isRoot}`);
});
