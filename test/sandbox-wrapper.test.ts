import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { wrapCommand } from '../src/upstream/sandbox/wrapper.ts';

const run = (w: { command: string; args: string[] }) =>
  spawnSync(w.command, w.args, { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH } });

test('argv: values are positional parameters, the command and its args follow the prefixes verbatim', () => {
  const w = wrapCommand({ procsFile: '/cg/x/cgroup.procs', nofile: 64, prefixes: [['/usr/bin/bwrap', '--']] }, 'npx', ['-y', "it's; rm -rf /"]);
  assert.equal(w.command, '/bin/sh');
  assert.deepEqual(w.args.slice(2), ['mcpproxy-sandbox', '/cg/x/cgroup.procs', '64', '', '/usr/bin/bwrap', '--', 'npx', '-y', "it's; rm -rf /"]);
});

test('with nothing to apply the wrapper just execs, keeping the pid and the arguments', () => {
  const r = run(wrapCommand({}, '/bin/sh', ['-c', 'echo "$$" "$1"', 'x', 'a b']));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^\d+ a b\n$/);
});

test('the wrapper writes its own pid, which the exec keeps, to cgroup.procs before the command runs', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fake-cgroup-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const procs = join(dir, 'cgroup.procs');
  const r = run(wrapCommand({ procsFile: procs }, '/bin/sh', ['-c', 'echo $$; cat "$1"', 'x', procs]));
  const [pid, joined] = r.stdout.trim().split('\n');
  assert.equal(joined, pid);
  assert.equal(readFileSync(procs, 'utf8').trim(), pid);
});

test('a cgroup it cannot join stops the wrapper before the command runs: exit 126 and a reason', () => {
  const r = run(wrapCommand({ procsFile: '/nonexistent/cgroup.procs' }, '/bin/echo', ['SHOULD NOT RUN']));
  assert.equal(r.status, 126);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /mcpproxy sandbox: cannot join cgroup \/nonexistent\/cgroup.procs/);
});

test('ulimit -t: a child burning CPU past its budget gets SIGXCPU, and SIGKILL a second later if it ignores that', () => {
  const r = run(wrapCommand({ cpuSeconds: 1 }, '/bin/sh', ['-c', 'while :; do :; done']));
  assert.equal(r.signal, 'SIGXCPU', `status ${r.status}`);
  const ignoring = run(wrapCommand({ cpuSeconds: 1 }, '/bin/sh', ['-c', "trap '' XCPU; while :; do :; done"]));
  assert.equal(ignoring.signal, 'SIGKILL', `status ${ignoring.status}`);
});

test('ulimit -n: a child opening more files than allowed gets EMFILE and cannot raise the limit', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nofile-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'open.cjs');
  writeFileSync(script, `
    const fs = require('node:fs');
    const fds = [];
    try { for (;;) fds.push(fs.openSync('/dev/null', 'r')); } catch (err) { console.log(err.code, fds.length); }
  `);
  const r = run(wrapCommand({ nofile: 64 }, process.execPath, [script]));
  const [code, opened] = r.stdout.trim().split(' ');
  assert.equal(code, 'EMFILE', r.stderr);
  assert.ok(Number(opened) < 64);
  const raise = run(wrapCommand({ nofile: 64 }, '/bin/sh', ['-c', 'ulimit -n 4096 2>/dev/null && echo raised; ulimit -n']));
  assert.equal(raise.stdout.trim(), '64');
});
