// Many servers, one deployment: a servers file, per-server routes and the aggregate, with real servers and SDK clients.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { spawnSync } from 'node:child_process';
import { BINARY, connectClient, EVERYTHING, FIXTURE, MEMORY, ROOT, startProxy, textOf, withDeadline, type RunningProxy } from './helpers/proxy.ts';

const LONG_NAME = `t${'x'.repeat(69)}`;
const node = process.execPath;

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-agg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeConfig(path: string, servers: Record<string, unknown>): void {
  writeFileSync(path, JSON.stringify({ mcpServers: servers }, null, 2));
}

async function status(proxy: RunningProxy): Promise<{ servers: Array<{ name: string; state: string; pids: number[] }>; aggregate: { shadowed: Array<{ name: string; server: string; winner: string }> } }> {
  return (await fetch(`${proxy.url}/status`)).json() as never;
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  await withDeadline((async () => {
    while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 50));
  })(), ms, what);
}

test('aggregate: namespaced tools from real servers, collisions, long names, filters, resources, per-server routes', { timeout: 90_000 }, async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'servers.json');
  writeConfig(file, {
    everything: { command: node, args: [EVERYTHING] },
    memory: { command: node, args: [MEMORY], env: { MEMORY_FILE_PATH: join(dir, 'memory.json') } },
    files: { command: node, args: [join(ROOT, 'node_modules', '@modelcontextprotocol', 'server-filesystem', 'dist', 'index.js'), dir] },
    fault: { command: node, args: [FIXTURE, `--extra-tool=${LONG_NAME}`], tools: { deny: ['crash', 'kill-*'] } },
    bare: { command: node, args: [FIXTURE], prefix: '' },
    bare2: { command: node, args: [FIXTURE], prefix: '' },
    never: { command: node, args: [FIXTURE, '--exit-on-start=3'] },
  });
  const proxy = await startProxy(['--config', file]);
  t.after(() => proxy.stop());
  await proxy.waitForLog(/listening/);

  for (const kind of ['streamable', 'sse'] as const) {
    const { client } = await connectClient(proxy.url, kind);
    t.after(() => client.close());
    const live = ['everything__echo', 'memory__create_entities', 'files__read_text_file', 'fault__slow', 'echo'];
    let names: string[] = [];
    // Members come up in their own time; each joins the list once its catalog is read.
    await waitFor(`every live member listed (${kind}): ${live.join(', ')}`, async () => {
      names = (await client.listTools()).tools.map((tool) => tool.name);
      return live.every((name) => names.includes(name));
    });
    assert.ok(!names.includes('fault__crash') && !names.some((n) => n.startsWith('fault__kill-')), 'a denied tool is not listed');
    assert.ok(names.every((n) => /^[a-zA-Z0-9_-]{1,64}$/.test(n)), 'every name fits the clients\' pattern');
    const long = names.find((n) => n.startsWith('fault__txxx'));
    assert.ok(long !== undefined && long.length === 64, 'a 70-character name is shortened to 64 with a hash');
    assert.equal(textOf(await client.callTool({ name: long, arguments: { text: 'L' } })), 'extra: L');
    assert.match(textOf(await client.callTool({ name: 'everything__echo', arguments: { message: 'hi' } })), /hi/);
    assert.equal(textOf(await client.callTool({ name: 'files__read_text_file', arguments: { path: file } })), readFileSync(file, 'utf8'));
    await client.callTool({ name: 'memory__create_entities', arguments: { entities: [{ name: `e-${kind}`, entityType: 't', observations: [] }] } });
    assert.match(textOf(await client.callTool({ name: 'memory__read_graph', arguments: {} })), new RegExp(`e-${kind}`));
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'bare' } })), 'bare');
    const denied = await client.callTool({ name: 'fault__crash', arguments: {} }).then(() => undefined, (err: Error) => err.message);
    assert.match(String(denied), /Unknown tool: fault__crash/, 'a denied tool is refused when called directly');
    const read = await client.readResource({ uri: 'fault+fixture://a' });
    assert.equal(read.contents[0]!.uri, 'fault+fixture://a');
    assert.equal((read.contents[0] as { text: string }).text, 'fixture resource a');
    const prompt = await client.getPrompt({ name: 'fault__greet', arguments: { name: 'Ada' } });
    assert.match(JSON.stringify(prompt.messages), /Hello, Ada!/);
  }

  const one = await connectClient(`${proxy.url}/servers/everything`, 'streamable');
  t.after(() => one.client.close());
  assert.ok((await one.client.listTools()).tools.some((tool) => tool.name === 'echo'), 'a per-server route keeps the server\'s own names');
  const narrowed = await connectClient(proxy.url, 'streamable', { query: 'servers=memory' });
  t.after(() => narrowed.client.close());
  assert.ok((await narrowed.client.listTools()).tools.every((tool) => tool.name.startsWith('memory__')), '?servers= narrows the aggregate');

  await waitFor('never is failed', async () => (await status(proxy)).servers.find((server) => server.name === 'never')!.state === 'failed');
  const s = await status(proxy);
  assert.ok(s.aggregate.shadowed.some((entry) => entry.name === 'echo' && entry.server === 'bare2' && entry.winner === 'bare'), 'the collision is reported, the first server wins');
  const { client } = await connectClient(proxy.url, 'streamable');
  t.after(() => client.close());
  const error = await client.callTool({ name: 'never__echo', arguments: {} }).then(() => undefined, (err: Error) => err.message);
  assert.match(String(error), /Unknown tool: never__echo/, 'a member that never came up is left out');
  const ready = await (await fetch(`${proxy.url}/readyz`)).json() as { status: string; notReady: Record<string, string> };
  assert.equal(ready.status, 'ready');
  assert.ok(ready.notReady.never !== undefined, '/readyz names the server that is not ready');
});

test('aggregate: a member that crashes fails its calls fast by name, keeps its tools listed, and serves again after its restart', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'servers.json');
  writeConfig(file, { steady: { command: node, args: [FIXTURE] }, crashy: { command: node, args: [FIXTURE] } });
  const proxy = await startProxy(['--config', file]);
  t.after(() => proxy.stop());
  const { client } = await connectClient(proxy.url, 'streamable');
  t.after(() => client.close());
  await waitFor('both listed', async () => (await client.listTools()).tools.some((tool) => tool.name === 'crashy__echo'));
  const crashed = await client.callTool({ name: 'crashy__crash', arguments: {} }).then(() => 'no error', (err: Error) => err.message);
  assert.match(crashed, /server crashy/, 'the error names the member');
  assert.equal(textOf(await client.callTool({ name: 'steady__echo', arguments: { text: 'still here' } })), 'still here');
  assert.ok((await client.listTools()).tools.some((tool) => tool.name === 'crashy__echo'), 'its last known tools stay listed');
  await waitFor('crashy serves again', async () => {
    const result = await client.callTool({ name: 'crashy__echo', arguments: { text: 'back' } }).then(textOf, () => '');
    return result === 'back';
  });
});

test('a call before any list (a client that kept its tools across a proxy restart) waits for members still starting', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'servers.json');
  writeConfig(file, { slow: { command: 'sh', args: ['-c', `sleep 2 && exec "${node}" "${FIXTURE}"`] } });
  const proxy = await startProxy(['--config', file]);
  t.after(() => proxy.stop());
  const { client } = await connectClient(proxy.url, 'streamable');
  t.after(() => client.close());
  assert.equal(textOf(await client.callTool({ name: 'slow__echo', arguments: { text: 'first thing' } })), 'first thing');
  const unknown = await client.callTool({ name: 'slow__nothing', arguments: {} }).then(() => 'answered', (err: Error) => err.message);
  assert.match(unknown, /slow__nothing/, 'a name no member has is still refused once every member has listed');
});

test('lazy member: no child until first use, sleeps when idle but never mid-call, catalog kept across a restart', { timeout: 90_000 }, async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'servers.json');
  writeConfig(file, { eager: { command: node, args: [FIXTURE] }, lazy: { command: node, args: [FIXTURE], lifecycle: 'lazy', idleTimeout: 1 } });
  const args = ['--config', file, '--state-dir', join(dir, 'state')];
  const lazyPids = async (proxy: RunningProxy): Promise<number[]> => (await status(proxy)).servers.find((s) => s.name === 'lazy')!.pids;
  const proxy = await startProxy(args);
  t.after(() => proxy.stop());
  await waitFor('eager ready', async () => (await status(proxy)).servers.find((s) => s.name === 'eager')!.state === 'ready');
  assert.deepEqual(await lazyPids(proxy), [], 'no child before first use');
  const { client } = await connectClient(proxy.url, 'streamable');
  t.after(() => client.close());
  assert.ok((await client.listTools()).tools.some((tool) => tool.name === 'lazy__echo'), 'the first list starts it and lists it');
  await waitFor('lazy went to sleep', async () => (await lazyPids(proxy)).length === 0);
  assert.equal(textOf(await client.callTool({ name: 'lazy__slow', arguments: { ms: 2500, text: 'long call' } })), 'long call', 'a call longer than the idle timeout completes');
  await waitFor('asleep again', async () => (await lazyPids(proxy)).length === 0);
  await client.close();
  await proxy.stop();

  const again = await startProxy(args);
  t.after(() => again.stop());
  const second = await connectClient(again.url, 'streamable');
  t.after(() => second.client.close());
  assert.ok((await second.client.listTools()).tools.some((tool) => tool.name === 'lazy__echo'), 'listed from the kept catalog');
  assert.deepEqual(await lazyPids(again), [], 'listing did not start it');
});

test('reload: add, remove, change and a broken file; sessions on unchanged servers keep working', { timeout: 90_000 }, async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'servers.json');
  writeConfig(file, { keep: { command: node, args: [FIXTURE] }, gone: { command: node, args: [FIXTURE] }, changed: { command: node, args: [FIXTURE] } });
  const proxy = await startProxy(['--config', file]);
  t.after(() => proxy.stop());
  const keep = await connectClient(`${proxy.url}/servers/keep`, 'streamable');
  t.after(() => keep.client.close());
  const agg = await connectClient(proxy.url, 'sse');
  t.after(() => agg.client.close());
  await waitFor('all listed', async () => (await agg.client.listTools()).tools.some((tool) => tool.name === 'changed__echo'));
  const changed = new Promise<void>((resolve) => agg.client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));

  writeConfig(file, {
    keep: { command: node, args: [FIXTURE] }, changed: { command: node, args: [FIXTURE, '--extra-tool=fresh'] },
    added: { command: node, args: [FIXTURE], mode: 'independent', allowEnv: ['TEAM'] },
  });
  proxy.proc.kill('SIGHUP');
  await proxy.waitForLog(/reloaded.*added=added.*changed=changed.*removed=gone.*unchanged=keep/);
  assert.equal(textOf(await keep.client.callTool({ name: 'echo', arguments: { text: 'no blip' } })), 'no blip');
  await withDeadline(changed, 15_000, 'one list_changed for the aggregate');
  await waitFor('new tools listed', async () => {
    const names = (await agg.client.listTools()).tools.map((tool) => tool.name);
    return names.includes('changed__fresh') && names.includes('added__echo') && !names.includes('gone__echo');
  });
  assert.equal((await fetch(`${proxy.url}/servers/gone/mcp`, { method: 'POST' })).status, 404);
  const added = await connectClient(`${proxy.url}/servers/added`, 'streamable');
  t.after(() => added.client.close());
  assert.equal(textOf(await added.client.callTool({ name: 'echo', arguments: { text: 'new' } })), 'new');
  // The aggregate's environment policy follows the reload: every member was shared at start, now one takes TEAM.
  const teamed = await connectClient(proxy.url, 'streamable', { headers: { 'x-mcp-env': 'TEAM=blue' } });
  t.after(() => teamed.client.close());
  assert.equal(JSON.parse(textOf(await teamed.client.callTool({ name: 'added__env', arguments: { name: 'TEAM' } }))).value, 'blue');

  writeFileSync(file, '{ "mcpServers": { "keep": ');
  proxy.proc.kill('SIGHUP');
  await proxy.waitForLog(/reload refused: the running configuration stays.*line 1, column 27/);
  assert.equal(textOf(await keep.client.callTool({ name: 'echo', arguments: { text: 'still' } })), 'still');
});

test('a Claude Desktop file copied verbatim (npx, ${VAR}) starts and serves; bad files exit 2 with one line', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'claude_desktop_config.json');
  writeFileSync(file, JSON.stringify({
    mcpServers: { memory: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'], env: { MEMORY_FILE_PATH: '${MEM_PATH}' } } },
  }, null, 2));
  // npx finds the package in this checkout's node_modules (the proxy inherits the test's cwd): no network.
  const proxy = await startProxy(['--config', file], { env: { MEM_PATH: join(dir, 'm.json') } });
  t.after(() => proxy.stop());
  const { client } = await connectClient(`${proxy.url}/servers/memory`, 'streamable');
  t.after(() => client.close());
  await client.callTool({ name: 'create_entities', arguments: { entities: [{ name: 'verbatim', entityType: 't', observations: [] }] } });
  assert.match(readFileSync(join(dir, 'm.json'), 'utf8'), /verbatim/, 'the expanded MEMORY_FILE_PATH reached the child');

  const refuse = (args: string[], env: NodeJS.ProcessEnv = {}): string => {
    const run = spawnSync(BINARY, ['--host', '127.0.0.1', ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 10_000 });
    assert.equal(run.status, 2, `exit 2 for ${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, /^mcpproxy: [^\n]+\n$/);
    return run.stderr;
  };
  assert.match(refuse(['--config', file], { MEM_PATH: '' }), /server "memory", env\.MEMORY_FILE_PATH: variable MEM_PATH is not set/);
  writeFileSync(join(dir, 'bad.json'), '{ "mcpServers": { "Bad": {} } }');
  assert.match(refuse(['--config', join(dir, 'bad.json')]), /server "Bad": names are/);
  writeFileSync(join(dir, 'broken.json'), '{\n  "mcpServers": {,\n}');
  assert.match(refuse(['--config', join(dir, 'broken.json')]), /line 2, column 18/);
  assert.match(refuse(['--config', file, '--', 'node', 'x.js']), /--config and a command/);
});

