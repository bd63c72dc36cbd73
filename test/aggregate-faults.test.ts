/**
 * Broken members must not break the aggregate for everyone: a member whose tools/list never answers,
 * one whose entries break the MCP schema, one that floods list_changed — each with a bystander client
 * whose calls to a healthy member (server-everything) stay right while it happens. And a member's own
 * list_changed reaches the aggregate's clients as it reaches its own route's.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Client as V2Client, StreamableHTTPClientTransport as V2Transport } from '@modelcontextprotocol/client';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, eventually, EVERYTHING, FIXTURE, startProxy, textOf, withDeadline, type RunningProxy } from './helpers/proxy.ts';

const node = process.execPath;

async function aggregateProxy(t: TestContext, servers: Record<string, unknown>): Promise<{ proxy: RunningProxy; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-aggf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'servers.json');
  writeFileSync(file, JSON.stringify({ mcpServers: servers }));
  const proxy = await startProxy(['--config', file]);
  t.after(() => proxy.stop());
  return { proxy, dir };
}

async function sdkClient(t: TestContext, url: string, options: Parameters<typeof connectClient>[2] = {}): Promise<Client> {
  const { client } = await connectClient(url, 'streamable', options);
  t.after(() => client.close());
  return client;
}

async function v2Client(t: TestContext, url: string): Promise<V2Client> {
  const client = new V2Client({ name: 'v2', version: '1.0.0' }, { capabilities: {} });
  await withDeadline(client.connect(new V2Transport(new URL(url))), 15_000, 'connect the v2 client');
  t.after(() => client.close());
  return client;
}

/** A tool that echoes: what to send it and what it must answer. */
interface Echo { name: string; args(text: string): Record<string, unknown>; answer(text: string): string }
const EVERYTHING_ECHO: Echo = { name: 'everything__echo', args: (message) => ({ message }), answer: (text) => `Echo: ${text}` };
const FIXTURE_ECHO: Echo = { name: 'echo', args: (text) => ({ text }), answer: (text) => text };

/**
 * A bystander's calls to `echo` (server-everything's, by default) while `during` runs (at least 5): every
 * answer must be its own. Returns the count of wrong or failed calls; rejects with `during`'s error.
 */
async function bystander(client: Client, during: Promise<unknown>, echo = EVERYTHING_ECHO): Promise<{ calls: number; wrong: number }> {
  let isDone = false;
  const outcome = during.then(() => undefined, (error: unknown) => ({ error })).finally(() => { isDone = true; });
  let calls = 0;
  let wrong = 0;
  do {
    const text = `b${calls}`;
    const answer = await client.callTool({ name: echo.name, arguments: echo.args(text) }).then(textOf, (err: Error) => err.message);
    calls++;
    if (answer !== echo.answer(text)) wrong++;
  } while (!isDone || calls < 5);
  const failed = await outcome;
  if (failed !== undefined) throw failed.error;
  return { calls, wrong };
}

async function status(proxy: RunningProxy): Promise<{ servers: Array<{ name: string; lastError?: string }> }> {
  return (await fetch(`${proxy.url}/status`)).json() as never;
}

async function names(client: Client | V2Client): Promise<string[]> {
  const { tools } = await client.listTools().catch((err: Error) => { throw new Error(`tools/list refused: ${err.name}: ${err.message.slice(0, 300)}`); });
  return tools.map((tool) => tool.name);
}

test('aggregate: a member whose tools/list never answers holds the lists once (about 2 s), is named as late, and a late member joins by list_changed', { timeout: 90_000 }, async (t) => {
  const flagDir = mkdtempSync(join(tmpdir(), 'mcpproxy-late-'));
  t.after(() => rmSync(flagDir, { recursive: true, force: true }));
  const answerFile = join(flagDir, 'answer');
  const { proxy } = await aggregateProxy(t, {
    everything: { command: node, args: [EVERYTHING] },
    hung: { command: node, args: [FIXTURE, '--silent-tools-list'] },
    late: { command: node, args: [FIXTURE, `--hold-tools-list=${answerFile}`] },
  });
  let changes = 0;
  const client = await sdkClient(t, proxy.url, { name: 'watcher' });
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => { changes++; });
  const other = await sdkClient(t, proxy.url, { name: 'bystander' });
  const first = Date.now();
  await names(client);
  t.diagnostic(`the first list, with three members never listed: ${Date.now() - first} ms`);
  await eventually(async () => (await names(client)).includes('everything__echo'), 30_000, 'server-everything listed');

  // Before: each list waited 10 s for the two members that never listed (30 s for three). Now they held
  // the first lists once, for about 2 s; these are answered from what is known.
  const started = Date.now();
  const lists = withDeadline((async () => {
    for (let i = 0; i < 3; i++) assert.ok((await names(client)).includes('everything__echo'));
  })(), 8000, 'three lists with a member that never answers');
  const seen = await bystander(other, lists);
  t.diagnostic(`three lists in ${Date.now() - started} ms; bystander ${seen.calls} calls, ${seen.wrong} wrong`);
  assert.equal(seen.wrong, 0, `the bystander's calls stay right (${seen.calls} calls)`);

  const hung = (await status(proxy)).servers.find((server) => server.name === 'hung')!;
  assert.match(String(hung.lastError), /late: tools\/list not answered after \d+ ms/, '/status names what the late member has not answered');
  assert.equal(proxy.logs().match(/catalog late.*server=hung/g)?.length, 1, 'the log names it once');
  assert.equal(proxy.logs().match(/catalog late.*server=late/g)?.length, 1, 'the other late member too');

  // The late member's answer comes: its tools join the lists and the clients are told.
  const before = changes;
  writeFileSync(answerFile, '');
  await eventually(() => changes > before, 15_000, 'list_changed when the late member lists');
  assert.ok((await names(client)).includes('late__echo'), 'its tools are listed');
  const late = (await status(proxy)).servers.find((server) => server.name === 'late')!;
  assert.equal(late.lastError, undefined, 'no longer late once listed');
});

test('aggregate: an independent member listing for a session\'s own environment is waited for about 2 s, then joins that session by list_changed', { timeout: 60_000 }, async (t) => {
  const flagDir = mkdtempSync(join(tmpdir(), 'mcpproxy-late-'));
  t.after(() => rmSync(flagDir, { recursive: true, force: true }));
  const answerFile = join(flagDir, 'answer');
  const { proxy } = await aggregateProxy(t, {
    everything: { command: node, args: [EVERYTHING] },
    solo: { command: node, args: [FIXTURE, `--hold-tools-list=${answerFile}`], mode: 'independent', allowEnv: ['EXTRA_TOOL'] },
  });
  const other = await sdkClient(t, proxy.url, { name: 'bystander' });
  await eventually(async () => (await names(other)).includes('everything__echo'), 30_000, 'server-everything listed');
  let changes = 0;
  const alice = await sdkClient(t, proxy.url, { headers: { 'X-MCP-Env': 'EXTRA_TOOL=alpha' } });
  alice.setNotificationHandler(ToolListChangedNotificationSchema, () => { changes++; });
  // Before: her lists waited for her own child's tools/list for as long as it took (here: until the file).
  const lists = withDeadline((async () => {
    for (let i = 0; i < 3; i++) assert.ok((await names(alice)).includes('everything__echo'));
  })(), 8000, 'three lists while her own child does not answer tools/list');
  const seen = await bystander(other, lists);
  assert.equal(seen.wrong, 0, `the bystander's calls stay right (${seen.calls} calls)`);
  writeFileSync(answerFile, '');
  await eventually(() => changes > 0, 15_000, 'list_changed when her child lists');
  await eventually(async () => (await names(alice)).includes('solo__alpha'), 15_000, 'her own list');
});

test('aggregate and a server\'s own route: entries that break the MCP schema are repaired or dropped, SDK 1.32 and v2 clients list them', { timeout: 90_000 }, async (t) => {
  const { proxy } = await aggregateProxy(t, {
    everything: { command: node, args: [EVERYTHING] },
    bad: { command: node, args: [FIXTURE, '--bad-entries'] },
  });
  const other = await sdkClient(t, proxy.url, { name: 'bystander' });
  const sdk = await sdkClient(t, proxy.url);
  const v2 = await v2Client(t, `${proxy.url}/mcp`);
  const checks = (async () => {
    // Before: both clients refused the whole aggregate list (a ZodError), server-everything's tools included.
    await eventually(async () => {
      const listed = await names(sdk);
      return listed.includes('everything__echo') && listed.includes('bad__echo');
    }, 30_000, 'both members listed to the SDK 1.32 client');
    for (const client of [sdk, v2]) {
      const { tools } = await client.listTools();
      const byName = new Map(tools.map((tool) => [tool.name, tool]));
      assert.deepEqual(byName.get('bad__bad-schema-missing')?.inputSchema, { type: 'object' }, 'a missing inputSchema is repaired');
      assert.ok(byName.has('bad__bad-description') && byName.get('bad__bad-description')!.description === undefined, 'a number description is taken out');
      assert.ok(byName.has('bad__bad-annotations') && byName.get('bad__bad-annotations')!.annotations === undefined, 'annotations that are not an object are taken out');
      assert.ok(!byName.has('bad__bad-schema-string'), 'a string inputSchema is dropped');
      assert.equal(tools.filter((tool) => tool.name.startsWith('bad__')).length, 18 + 3, 'the fixture\'s own tools and the three repaired ones, nothing else');
      const { prompts } = await client.listPrompts();
      assert.deepEqual(prompts.filter((p) => p.name.startsWith('bad__')).map((p) => p.name).sort(), ['bad__bad-prompt-description', 'bad__greet']);
      const { resources } = await client.listResources();
      assert.ok(resources.some((r) => r.uri === 'bad+fixture://nameless' && r.name === 'fixture://nameless'), 'a nameless resource is named by its URI');
    }
    // The member's own route in the same deployment reads through the same gate.
    const own = await v2Client(t, `${proxy.url}/servers/bad/mcp`);
    assert.ok((await names(own)).includes('bad-schema-missing'));
  })();
  const seen = await bystander(other, checks);
  t.diagnostic(`bystander ${seen.calls} calls, ${seen.wrong} wrong`);
  assert.equal(seen.wrong, 0, `the bystander's calls stay right (${seen.calls} calls)`);
  const logs = proxy.logs();
  assert.equal(logs.match(/list entry dropped.*reason="inputSchema is not an object"/g)?.length, 1, 'each reason is logged once, however many lists were read');
  assert.match(logs, /list entry repaired.*server=bad.*reason="inputSchema missing"/);
});

test('aggregate: 5,000 list_changed from one member cost at most two re-reads of its list, and the last change is seen', { timeout: 90_000 }, async (t) => {
  const { proxy } = await aggregateProxy(t, {
    everything: { command: node, args: [EVERYTHING] },
    flood: { command: node, args: [FIXTURE, '--list-flood'] },
  });
  const client = await sdkClient(t, proxy.url);
  const other = await sdkClient(t, proxy.url, { name: 'bystander' });
  await eventually(async () => {
    const listed = await names(client);
    return listed.includes('everything__echo') && listed.includes('flood__list-reads');
  }, 30_000, 'both members listed');
  const reads = async (): Promise<number> => Number(textOf(await client.callTool({ name: 'flood__list-reads', arguments: {} })));
  const flood = (async () => {
    const before = await reads();
    assert.equal(textOf(await client.callTool({ name: 'flood__flood-list-changed', arguments: { count: 5000 } })), 'flooded-1');
    await eventually(async () => (await names(client)).includes('flood__flooded-1'), 30_000, 'the list after the flood');
    return before;
  })();
  const seen = await bystander(other, flood);
  const before = await flood;
  // Before: one read per notification (5,000); the read this call comes after is counted by the fixture.
  const after = await reads();
  t.diagnostic(`re-reads for 5,000 list_changed: ${after - before}; bystander ${seen.calls} calls, ${seen.wrong} wrong`);
  assert.ok(after - before >= 1 && after - before <= 2, `re-reads for 5,000 notifications: ${after - before}`);
  assert.equal(seen.wrong, 0, `the bystander's calls stay right (${seen.calls} calls)`);
});

test('a member\'s list_changed reaches the aggregate\'s clients even when its list did not change, as on its own route', { timeout: 60_000 }, async (t) => {
  const { proxy } = await aggregateProxy(t, { fault: { command: node, args: [FIXTURE] } });
  let aggregateChanges = 0;
  let ownChanges = 0;
  const client = await sdkClient(t, proxy.url);
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => { aggregateChanges++; });
  const own = await sdkClient(t, `${proxy.url}/servers/fault`);
  own.setNotificationHandler(ToolListChangedNotificationSchema, () => { ownChanges++; });
  await eventually(async () => (await names(client)).includes('fault__echo'), 30_000, 'the member listed');
  const listed = await names(client);
  // Before: the aggregate re-read an unchanged list and said nothing (its own route passed it on). Three
  // rounds: a notification of the member's arrival, coalesced and still on its way, can answer one at most.
  for (let round = 1; round <= 3; round++) {
    const [aggregateBefore, ownBefore] = [aggregateChanges, ownChanges];
    assert.equal(textOf(await client.callTool({ name: 'fault__notify-list-changed', arguments: {} })), 'ok');
    await eventually(() => aggregateChanges > aggregateBefore && ownChanges > ownBefore, 15_000, `list_changed on both routes, round ${round}`);
  }
  assert.deepEqual(await names(client), listed, 'the list itself is the same');
});

test('a single server\'s own route: entries that break the MCP schema are repaired or dropped the same way, SDK 1.32 and v2 clients list them', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--', node, FIXTURE, '--bad-entries']);
  t.after(() => proxy.stop());
  const other = await sdkClient(t, proxy.url, { name: 'bystander' });
  const checks = (async () => {
    // Before: the SDK refused the server's whole list here too (a ZodError), with either client.
    for (const client of [await sdkClient(t, proxy.url), await v2Client(t, `${proxy.url}/mcp`)]) {
      const listed = await names(client);
      assert.ok(listed.includes('echo') && listed.includes('bad-schema-missing') && !listed.includes('bad-schema-string'), `listed: ${listed.join(', ')}`);
      assert.deepEqual((await client.listPrompts()).prompts.map((p) => p.name).sort(), ['bad-prompt-description', 'greet']);
      assert.ok((await client.listResources()).resources.some((r) => r.uri === 'fixture://nameless' && r.name === 'fixture://nameless'));
    }
  })();
  const seen = await bystander(other, checks, FIXTURE_ECHO);
  assert.equal(seen.wrong, 0, `the bystander's calls stay right (${seen.calls} calls)`);
});
