/**
 * The drain through a real load balancer: haproxy with the shipped deploy/haproxy/mcpproxy.cfg (round-robin,
 * no affinity, checks on /readyz), two instances on loopback, a 2026-07-28 client (SDK v2, pinned) calling
 * every 50 ms while one instance is SIGTERMed and started again: no call fails.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { eventually, FIXTURE, ROOT, startProxy, textOf, withDeadline, type RunningProxy } from './helpers/proxy.ts';
import { rawRequest } from './helpers/ops.ts';

const HAPROXY_CFG = join(ROOT, 'deploy', 'haproxy', 'mcpproxy.cfg');
const SHIPPED = { bind: 'bind :8080', a: '127.0.0.1:8001', b: '127.0.0.1:8002' };
const hasHaproxy = spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).error === undefined;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** One instance with the default drain (5 s) on `port`: DRAIN_DELAY=0 is only the test helper's default. */
function instance(port: number): Promise<RunningProxy> {
  return startProxy(['--port', String(port), '--drain-delay', '5', '--shutdown-timeout', '4', '--shared', '--', process.execPath, FIXTURE]);
}

async function toolCalls(proxy: RunningProxy): Promise<number> {
  const { text } = await rawRequest(`${proxy.url}/metrics`);
  return [...text.matchAll(/^mcpproxy_requests_total\{[^}]*method="tools\/call"[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

test('haproxy round-robin with the shipped /readyz checks: an instance SIGTERMed and restarted under load, 0 failed calls', { skip: !hasHaproxy && 'haproxy not installed', timeout: 120_000 }, async (t) => {
  const [portA, portB, front] = [await freePort(), await freePort(), await freePort()];
  const live: { a: RunningProxy; b: RunningProxy } = { a: await instance(portA), b: await instance(portB) };
  t.after(() => Promise.all([live.a.stop(), live.b.stop()]));

  const shipped = readFileSync(HAPROXY_CFG, 'utf8');
  for (const text of Object.values(SHIPPED)) assert.ok(shipped.includes(text), `${HAPROXY_CFG}: no "${text}"`);
  assert.match(shipped, /option httpchk GET \/readyz/);
  assert.match(shipped, /balance roundrobin/);
  const dir = mkdtempSync(join(tmpdir(), 'drain-haproxy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, shipped.replace(SHIPPED.bind, `bind 127.0.0.1:${front}`).replace(SHIPPED.a, `127.0.0.1:${portA}`).replace(SHIPPED.b, `127.0.0.1:${portB}`));
  const haproxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let haproxyLog = '';
  haproxy.stderr!.setEncoding('utf8').on('data', (chunk: string) => { haproxyLog += chunk; });
  t.after(() => new Promise<void>((resolve) => {
    if (haproxy.exitCode !== null || haproxy.signalCode !== null) return resolve();
    haproxy.once('exit', () => resolve());
    haproxy.kill('SIGKILL');
  }));
  const base = `http://127.0.0.1:${front}`;
  await eventually(async () => (await rawRequest(`${base}/readyz`).catch(() => undefined))?.status === 200, 10_000, 'haproxy up');

  const client = new Client({ name: 'drain-lb', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  await withDeadline(client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`))), 15_000, 'connect through haproxy');
  t.after(() => client.close());

  // A call every 50 ms, each awaited: the longest gap is the longest time between two answers.
  const failures: string[] = [];
  let calls = 0;
  let longestGapMs = 0;
  let lastAnswerMs = Date.now();
  let isRunning = true;
  const load = (async () => {
    while (isRunning) {
      const startedMs = Date.now();
      try {
        const result = await client.callTool({ name: 'echo', arguments: { text: `call ${calls}` } }, { timeout: 30_000 });
        if (textOf(result) !== `call ${calls}`) failures.push(`call ${calls}: ${JSON.stringify(result)}`);
      } catch (err) {
        failures.push(`call ${calls}: ${(err as Error).message}`);
      }
      calls++;
      longestGapMs = Math.max(longestGapMs, Date.now() - lastAnswerMs);
      lastAnswerMs = Date.now();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 50 - (Date.now() - startedMs))));
    }
  })();
  try {
    await eventually(async () => (await toolCalls(live.a)) > 5 && (await toolCalls(live.b)) > 5, 15_000, 'both instances serve');
    const exit = await live.a.stop(20_000);
    assert.deepEqual(exit, { code: 0, signal: null }, 'a clean exit within drain + shutdown');
    assert.match(live.a.logs(), /draining[\s\S]*shutting down[\s\S]*stopped/);
    live.a = await instance(portA);
    // Back in the pool after `rise` good checks: the restarted instance answers calls again.
    await eventually(async () => (await toolCalls(live.a)) > 5, 20_000, 'the restarted instance serves again');
  } catch (err) {
    throw new Error(`${(err as Error).message}; ${calls} calls, failures: ${failures.slice(0, 5).join('; ')}\n${haproxyLog.slice(-3000)}`);
  } finally {
    isRunning = false;
    await withDeadline(load, 35_000, 'the calling loop stops');
  }
  t.diagnostic(`${calls} calls, ${failures.length} failed, longest gap between answers ${longestGapMs} ms`);
  assert.deepEqual(failures, [], `every call answered right\n${haproxyLog.slice(-3000)}`);
  assert.ok(calls > 20, `enough calls to mean something: ${calls}`);
  // haproxy took the instance out because /readyz said 503, before its listener closed (not on a refused connection).
  assert.match(haproxyLog, /mcpproxy1 is DOWN, reason: Layer7 wrong status, code: 503/);
  assert.doesNotMatch(haproxyLog, /mcpproxy1 is DOWN, reason: Layer4/);
});
