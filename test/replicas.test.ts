/**
 * Replica pools (`replicas: N`, shared mode) with the fault fixture's blocking tool, which makes a
 * child serve one call at a time: calls spread over the replicas, every answer reaches its asker, a
 * replica killed under load fails only its own calls (an idempotent read in flight on it is retried
 * on another), subscriptions stay on the session's home replica, and /status shows each replica.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, eventually, FIXTURE, startProxy, textOf, withDeadline, type RunningProxy } from './helpers/proxy.ts';

interface Replica { replica: number; pid: number | undefined; sessions: number; inFlight: number; restarts: number; up: boolean }

async function poolProxy(t: TestContext, replicas: number): Promise<RunningProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-pool-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'servers.json');
  writeFileSync(file, JSON.stringify({ mcpServers: { pool: { command: process.execPath, args: [FIXTURE], replicas } } }));
  const proxy = await startProxy(['--config', file]);
  t.after(() => proxy.stop());
  await eventually(async () => (await replicasOf(proxy)).filter((r) => r.up).length === replicas, 20_000, 'every replica up');
  return proxy;
}

async function replicasOf(proxy: RunningProxy): Promise<Replica[]> {
  const status = await (await fetch(`${proxy.url}/status`)).json() as { servers: Array<{ replicas?: Replica[] }> };
  return status.servers[0]!.replicas ?? [];
}

test('calls spread over the replicas; every answer reaches its asker; /status shows each replica', { timeout: 60_000 }, async (t) => {
  const proxy = await poolProxy(t, 3);
  const clients = await Promise.all([0, 1, 2].map(async () => (await connectClient(`${proxy.url}/servers/pool`, 'streamable')).client));
  t.after(() => Promise.all(clients.map((client) => client.close())));
  const replies = await Promise.all(clients.flatMap((client, c) => [0, 1].map(async (n) => {
    const tag = `c${c}-${n}`;
    const [pid, text] = textOf(await client.callTool({ name: 'block', arguments: { ms: 300, text: tag } })).split(':');
    assert.equal(text, tag, 'the answer is the asker\'s own');
    return Number(pid);
  })));
  const replicas = await replicasOf(proxy);
  assert.equal(replicas.length, 3);
  const pids = new Set(replicas.map((r) => r.pid));
  assert.ok(replies.every((pid) => pids.has(pid)), 'every call was served by a replica of the pool');
  assert.ok(new Set(replies).size >= 2, `six blocking calls at once were spread: ${replies.join(',')}`);
  // Three client sessions and the aggregate's catalog session, each given the replica with the fewest.
  const homes = replicas.map((r) => r.sessions);
  assert.equal(homes.reduce((a, b) => a + b, 0), 4);
  assert.ok(Math.max(...homes) - Math.min(...homes) <= 1, `balanced: ${homes.join(',')}`);
  const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
  for (const r of [1, 2, 3]) assert.match(metrics, new RegExp(`mcpproxy_replica_up\\{server="pool",replica="${r}"\\} 1`));
});

test('a replica killed under load fails only its own calls; a read in flight on it is retried elsewhere', { timeout: 60_000 }, async (t) => {
  const proxy = await poolProxy(t, 2);
  const { client } = await connectClient(`${proxy.url}/servers/pool`, 'streamable');
  t.after(() => client.close());
  const read = client.readResource({ uri: 'fixture://slow' });
  let victim: Replica | undefined;
  await eventually(async () => {
    victim = (await replicasOf(proxy)).find((r) => r.inFlight > 0);
    return victim !== undefined;
  }, 10_000, 'the read is in flight on a replica');
  const others = [1, 2, 3].map((n) => client.callTool({ name: 'block', arguments: { ms: 200, text: `b${n}` } }).then(textOf, (err: Error) => `error: ${err.message}`));
  process.kill(victim!.pid!, 'SIGKILL');
  const result = await withDeadline(read, 20_000, 'the retried read');
  assert.match((result.contents[0] as { text: string }).text, /^slow from \d+$/);
  assert.notEqual((result.contents[0] as { text: string }).text, `slow from ${victim!.pid}`, 'served by the other replica');
  for (const [i, outcome] of (await Promise.all(others)).entries()) {
    assert.ok(outcome.endsWith(`:b${i + 1}`) || new RegExp(`replica ${victim!.replica} child was killed`).test(outcome), `answered, or failed naming the replica; never crossed: ${outcome}`);
  }
  await eventually(async () => (await replicasOf(proxy)).every((r) => r.up) && (await replicasOf(proxy)).some((r) => r.restarts >= 1), 20_000, 'the replica restarted');
});

test('subscriptions stay on the session\'s home replica', { timeout: 60_000 }, async (t) => {
  const proxy = await poolProxy(t, 2);
  const { client } = await connectClient(`${proxy.url}/servers/pool`, 'sse');
  t.after(() => client.close());
  const updated = new Promise<string>((resolve) => client.setNotificationHandler(ResourceUpdatedNotificationSchema, (note) => resolve(note.params.uri)));
  await client.subscribeResource({ uri: 'fixture://a' });
  // With nothing in flight, calls go to the home replica, which holds the subscription.
  await client.callTool({ name: 'update-resource', arguments: { uri: 'fixture://a' } });
  assert.equal(await withDeadline(updated, 10_000, 'resources/updated from the home replica'), 'fixture://a');
});
