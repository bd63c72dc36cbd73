// The sandbox through the built proxy: strict refusing what it cannot enforce, a breach ending the
// call in flight with the server and the limit named (and counted), usage in /status and /metrics,
// and `npx` of a locally packed server inside the sandbox with a cold and then a prefetched cache.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BINARY, connectClient, eventually, FIXTURE, startProxy, textOf, withDeadline } from './helpers/proxy.ts';
import { needBwrap } from './helpers/sandbox.ts';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-sbx-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

test('strict refuses a control it cannot enforce: the server is failed and /readyz names the control', { timeout: 30_000 }, async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root: a missing --sandbox-user is what strict refuses here');
  const proxy = await startProxy(['--sandbox', 'strict', '--sandbox-user', 'no-such-user-mcpproxy', '--', process.execPath, FIXTURE]);
  t.after(() => proxy.stop());
  const ready = await getJson(`${proxy.url}/readyz`);
  assert.equal(ready.status, 503);
  assert.match(ready.body.reason, /sandbox strict: cannot enforce .*user \(--sandbox-user no-such-user-mcpproxy is not in \/etc\/passwd\)/);
  const status = await getJson(`${proxy.url}/status`);
  assert.equal(status.body.servers[0].state, 'failed');
  assert.deepEqual(status.body.servers[0].pids, [], 'no child was started');
});

test('a lifetime breach ends the call in flight naming server and limit; counted; usage in /status and /metrics', { timeout: 60_000 }, async (t) => {
  if (!(await needBwrap(t))) return;
  const proxy = await startProxy(['--sandbox', 'auto', '--sandbox-lifetime', '6', '--', process.execPath, FIXTURE]);
  t.after(() => proxy.stop());
  const { client } = await connectClient(proxy.url, 'streamable');
  t.after(() => client.close());
  assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'inside' } })), 'inside');
  // In flight until the child's 6 s are up; meanwhile the running child's figures are read.
  const slow = client.callTool({ name: 'slow', arguments: { ms: 60_000 } }, undefined, { timeout: 60_000 });
  const line = await proxy.waitForLog(/sandbox mode=auto enforced="[^"]*"/);
  assert.match(line, /filesystem=bwrap/);
  assert.match(line, /lifetime=timer/);
  const server = (await getJson(`${proxy.url}/status`)).body.servers[0];
  assert.match(server.sandbox.enforced, /lifetime=timer/);
  assert.equal(server.usage.length, 1);
  assert.ok(server.usage[0].rssBytes > 0, JSON.stringify(server.usage));
  const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
  assert.match(metrics, /^mcpproxy_child_memory_bytes\{server="default"\} [1-9]\d*$/m);

  await assert.rejects(withDeadline(slow, 20_000, 'slow call'), /server default was stopped: lifetime limit 6 s reached/);
  await eventually(async () => /mcpproxy_child_limit_breaches_total\{server="default",limit="lifetime"\} 1/.test(await (await fetch(`${proxy.url}/metrics`)).text()), 10_000, 'breach counted');
  assert.match(proxy.logs(), /warn {2}child exit .*breach="lifetime limit 6 s reached"/);
});

/** A tiny MCP server package (the fault fixture with a bin), packed with `npm pack` and served on loopback. */
async function packedServer(t: { after(fn: () => void): void }, dir: string): Promise<string> {
  const pkg = join(dir, 'pkg');
  mkdirSync(pkg);
  copyFileSync(FIXTURE, join(pkg, 'server.mjs'));
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'mcpproxy-fixture-server', version: '1.0.0', type: 'module', bin: { 'mcpproxy-fixture-server': 'server.mjs' } }));
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: pkg, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } }).trim();
  const tarball = readFileSync(join(dir, name));
  const http = createServer((req, res) => {
    if (req.url === `/${name}`) res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(tarball);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => http.close(() => resolve())));
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}/${name}`;
}

test('npx inside the sandbox: a cold cache with the network off says so; prefetch warms it; then it starts offline', { timeout: 240_000 }, async (t) => {
  if (!(await needBwrap(t))) return;
  const dir = tempDir(t);
  const url = await packedServer(t, dir);
  const file = join(dir, 'servers.json');
  // update_notifier off: npm would otherwise ask the public registry about its own version.
  const env = { npm_config_update_notifier: 'false', npm_config_fetch_retries: '0' };
  writeFileSync(file, JSON.stringify({ mcpServers: { packed: { command: 'npx', args: ['-y', url], env, upstreamProtocol: 'legacy', sandbox: { network: 'off' } } } }));
  const args = ['--config', file, '--state-dir', join(dir, 'state'), '--sandbox', 'auto'];

  const cold = await startProxy(args);
  t.after(() => cold.stop());
  await cold.waitForLog(/child exit .*code=1/, 60_000);
  await eventually(async () => /cold npx\/uvx cache .* run `mcpproxy prefetch`/.test((await getJson(`${cold.url}/readyz`)).body.notReady?.packed ?? ''), 10_000, 'readyz names the cold cache');
  await cold.stop();

  const prefetch = spawn(BINARY, ['prefetch', '--host', '127.0.0.1', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  prefetch.stderr.on('data', (chunk: Buffer) => { log += chunk.toString(); });
  const code = await withDeadline(new Promise<number | null>((resolve) => prefetch.once('exit', resolve)), 120_000, 'prefetch');
  assert.equal(code, 0, log);
  assert.match(log, /info {2}prefetched server=packed ms=\d+ home=.*homes\/packed/);

  const warm = await startProxy(args);
  t.after(() => warm.stop());
  await eventually(async () => (await getJson(`${warm.url}/readyz`)).status === 200, 60_000, 'warm server ready');
  const { client } = await connectClient(`${warm.url}/servers/packed`, 'streamable');
  t.after(() => client.close());
  assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'offline' } })), 'offline');
});
