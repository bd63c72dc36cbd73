/**
 * One client trying to exhaust the proxy (issue 28): what it sends is bounded where the proxy keeps it,
 * and a bystander client's calls stay right throughout. RSS is read from /proc/<pid>/status.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FIXTURE, startProxy } from './helpers/proxy.ts';
import { RawStreamable, rawRequest, rssBytes } from './helpers/ops.ts';
import { startBystander } from './helpers/bystander.ts';

const KEY = 'hostile-test-key-0123456789';
const AUTH = { authorization: `Bearer ${KEY}` };
const MIB = 1024 * 1024;

test('client-chosen method names are cut and masked in /status, and invented ones add one metrics series', { timeout: 120_000 }, async (t) => {
  const proxy = await startProxy(['--auth-key', KEY, '--', process.execPath, FIXTURE]);
  t.after(() => proxy.stop());
  const bystander = await startBystander(proxy.url, AUTH);
  t.after(() => bystander.stop());
  const attacker = new RawStreamable(proxy.url, AUTH);
  assert.equal((await attacker.initialize()).status, 200);
  t.after(() => attacker.dispose());
  const rssBefore = rssBytes(proxy.proc.pid!);

  // Names a loose pattern would take for real ones (lowercase words and slashes), each different.
  const invented = (i: number): string => `invented/${[...i.toString(26)].map((d) => String.fromCharCode(97 + parseInt(d, 26))).join('')}`;
  for (let i = 0; i < 300; i++) await attacker.post({ jsonrpc: '2.0', id: 1000 + i, method: invented(i) });
  for (let i = 0; i < 12; i++) {
    const res = await attacker.post({ jsonrpc: '2.0', id: i, method: `m${i}/${KEY}/${'x'.repeat(15 * MIB)}` });
    assert.equal(res.status, 200, 'a long method name is the server\'s to refuse');
  }
  for (let i = 0; i < 38; i++) await attacker.post({ jsonrpc: '2.0', id: 2000 + i, method: `evil/${KEY}` });

  const status = await rawRequest(`${proxy.url}/status`, { headers: AUTH });
  assert.equal(status.status, 200);
  assert.ok(status.text.length < 64 * 1024, `/status stays small (${status.text.length} chars)`);
  const errors = (status.json as { errors: Array<{ method: string; message: string }> }).errors;
  assert.equal(errors.length, 50);
  for (const entry of errors) assert.ok(entry.method.length <= 100 && entry.message.length <= 200, 'every stored client string is bounded');
  assert.ok(!status.text.includes(KEY), 'the key never shows in /status');
  const withKey = (await rawRequest(`${proxy.url}/status`, { headers: AUTH })).json as { errors: Array<{ method: string }> };
  assert.ok(withKey.errors.every((e) => !e.method.includes(KEY)));

  const metrics = await rawRequest(`${proxy.url}/metrics`, { headers: AUTH });
  const methods = new Set([...metrics.text.matchAll(/^mcpproxy_requests_total\{[^}]*method="([^"]*)"/gm)].map((m) => m[1]));
  assert.ok(methods.has('other') && methods.has('tools/call'), `known methods and one "other": ${[...methods].join(' ')}`);
  assert.ok(methods.size <= 4, `invented names do not add series: ${[...methods].slice(0, 10).join(' ')}`);

  const counts = await bystander.stop();
  const rssAfter = rssBytes(proxy.proc.pid!);
  t.diagnostic(`RSS before ${Math.round(rssBefore / MIB)} MiB, after ${Math.round(rssAfter / MIB)} MiB; bystander ${JSON.stringify(counts)}`);
  assert.ok(counts.ok > 0);
  assert.equal(counts.wrong + counts.failed, 0);
});
