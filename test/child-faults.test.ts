/**
 * A broken or hostile stdio server (issue 28 items 6–11 and 13, issue 22 item 3), against the built
 * binary: each fault fails its caller at once with an error that says why, a bystander client's calls
 * stay right, memory stays bounded, and the proxy lives. Faults come from test/fixtures/fault-server.mjs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, eventually, FIXTURE, startProxy, textOf, withDeadline, type RunningProxy } from './helpers/proxy.ts';
import { allGone, callJson, isRunning, killAll, rawRequest, RawStreamable, rpcErrorOf } from './helpers/ops.ts';
import { launchBrowser, openPage } from './helpers/browser.ts';

const MIB = 1024 * 1024;

function child(...flags: string[]): string[] {
  return ['--', process.execPath, FIXTURE, ...flags];
}

/** Peak resident set size of `pid` so far (VmHWM), in bytes: what a burst cost even after it is freed. */
function peakRss(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match === null) throw new Error(`no VmHWM for ${pid}`);
  return Number(match[1]) * 1024;
}

/** A client that keeps calling `echo` while `during` runs; every answer must be its own text. */
async function bystander(proxy: RunningProxy, during: Promise<unknown>): Promise<{ calls: number; wrong: number; failed: number }> {
  const { client } = await connectClient(proxy.url, 'streamable', { name: 'bystander' });
  const counts = { calls: 0, wrong: 0, failed: 0 };
  let isDone = false;
  const settled = during.finally(() => { isDone = true; });
  try {
    do {
      const text = `bystander-${counts.calls++}`;
      const answer = await withDeadline(client.callTool({ name: 'echo', arguments: { text } }), 10_000, 'bystander echo').then(textOf, () => undefined);
      if (answer === undefined) counts.failed++;
      else if (answer !== text) counts.wrong++;
    } while (!isDone || counts.calls < 5);
    await settled;
  } finally {
    await client.close();
  }
  return counts;
}

/** How a call ended: its error (an McpError the proxy sent) and how long the caller waited for it. */
async function failure(client: Client, name: string, args: Record<string, unknown>, ms = 10_000): Promise<{ error: McpError; waitedMs: number }> {
  const started = Date.now();
  const outcome = await withDeadline(client.callTool({ name, arguments: args }, undefined, { timeout: 120_000 }).then(() => undefined, (err: unknown) => err), ms, `${name} ${JSON.stringify(args)}`);
  assert.ok(outcome instanceof McpError, `${name}: expected an error, got ${String(outcome)}`);
  return { error: outcome, waitedMs: Date.now() - started };
}

async function readyz(proxy: RunningProxy): Promise<{ status: number; reason: string }> {
  const res = await rawRequest(`${proxy.url}/readyz`);
  return { status: res.status, reason: String((res.json as { reason?: string }).reason ?? '') };
}

async function serverStatus(proxy: RunningProxy): Promise<Record<string, unknown>> {
  const res = await rawRequest(`${proxy.url}/status`);
  return (res.json as { servers: Array<Record<string, unknown>> }).servers[0]!;
}

test('28.6: a flood of non-JSON lines with the log on a pipe nobody reads: no crash, bounded memory, coalesced log lines', { timeout: 120_000 }, async (t) => {
  const proxy = await startProxy(['--shared', ...child('--flood-stdout=1300000')]);
  t.after(() => proxy.stop());
  // The log goes to a pipe that is not read now: every line the proxy writes has to wait, or be dropped.
  proxy.proc.stderr!.pause();
  const before = peakRss(proxy.proc.pid!);
  // The fixture reads stdin only after its flood: a client that connects has waited it out.
  const { client } = await connectClient(proxy.url, 'streamable', { connectMs: 90_000 });
  t.after(() => client.close());
  const counts = await bystander(proxy, client.callTool({ name: 'echo', arguments: { text: 'after the flood' } }));
  const grown = peakRss(proxy.proc.pid!) - before;
  t.diagnostic(`RSS peak before ${Math.round(before / MIB)} MiB, grown ${Math.round(grown / MIB)} MiB; bystander ${counts.calls} calls`);
  assert.deepEqual({ wrong: counts.wrong, failed: counts.failed }, { wrong: 0, failed: 0 }, `bystander after ${counts.calls} calls`);
  assert.equal(proxy.proc.exitCode, null, 'the proxy lives');
  assert.ok(grown < 100 * MIB, `peak RSS grew ${Math.round(grown / MIB)} MiB`);
  proxy.proc.stderr!.resume();
  await proxy.waitForLog(/not JSON, skipped \(more of the same not logged\) .*skipped=\d{5,}/, 30_000);
  const lines = proxy.logs().split('\n').filter((line) => line.includes('not JSON')).length;
  assert.ok(lines < 20, `${lines} log lines for the flood`);
});

test('28.7: broken replies fail their call at once, saying why; a 2025-03-26 batch is unpacked', { timeout: 90_000 }, async (t) => {
  const proxy = await startProxy(['--shared', '--request-timeout', '120', '--max-message-bytes', '65536', ...child('--fault-tools')]);
  t.after(() => proxy.stop());
  const { client } = await connectClient(proxy.url, 'streamable');
  t.after(() => client.close());
  const cases: Array<[string, number, RegExp]> = [
    ['no-jsonrpc', 100, /invalid reply: jsonrpc must be "2.0"/],
    ['both', 100, /invalid reply: a response carries exactly one of result and error/],
    ['oversized-id-last', 100_000, /reply was \d+ bytes, over --max-message-bytes 65536/],
    ['oversized-id-first', 100_000, /reply was \d+ bytes, over --max-message-bytes 65536/],
  ];
  const work = (async () => {
    for (const [kind, bytes, why] of cases) {
      const { error, waitedMs } = await failure(client, 'bad-reply', { kind, bytes });
      assert.equal(error.code, -32603, `${kind}: ${error.message}`);
      assert.match(error.message, why, kind);
      t.diagnostic(`${kind}: error after ${waitedMs} ms (was --request-timeout)`);
    }
    const batch = await withDeadline(client.callTool({ name: 'bad-reply', arguments: { kind: 'batch', bytes: 10 } }), 10_000, 'batch reply');
    assert.equal(textOf(batch), 'x'.repeat(10), 'a batch of one reply is that reply');
  })();
  const counts = await bystander(proxy, work);
  assert.deepEqual({ wrong: counts.wrong, failed: counts.failed }, { wrong: 0, failed: 0 });
});

test('28.7: a UTF-8 byte order mark before the child\'s first line does not hang the first initialize', { timeout: 30_000 }, async (t) => {
  const bom = await startProxy(['--shared', ...child('--bom')]);
  t.after(() => bom.stop());
  const first = await connectClient(bom.url, 'streamable', { connectMs: 10_000 });
  t.after(() => first.client.close());
  assert.equal(textOf(await first.client.callTool({ name: 'echo', arguments: { text: 'after a BOM' } })), 'after a BOM');
});

// The memory per byte held is shown by test/framer.test.ts (exact, no other process); here: through the
// binary, the dribbled reply arrives whole, the bystander is served, and the proxy's peak stays small.
test('28.8: a reply dribbled a few bytes per write arrives whole at a bounded cost', { timeout: 120_000 }, async (t) => {
  const proxy = await startProxy(['--shared', ...child('--fault-tools')]);
  t.after(() => proxy.stop());
  const { client } = await connectClient(proxy.url, 'streamable');
  t.after(() => client.close());
  assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'warm' } })), 'warm');
  const before = peakRss(proxy.proc.pid!);
  const bytes = 100_000;
  const dribbled = client.callTool({ name: 'dribble', arguments: { bytes } }, undefined, { timeout: 100_000 });
  const counts = await bystander(proxy, dribbled);
  assert.equal(textOf(await dribbled).length, bytes, 'the dribbled reply arrives whole');
  const grown = peakRss(proxy.proc.pid!) - before;
  t.diagnostic(`RSS peak before ${Math.round(before / MIB)} MiB, grown ${Math.round(grown / MIB)} MiB for ${bytes} bytes dribbled; bystander ${counts.calls} calls`);
  assert.deepEqual({ wrong: counts.wrong, failed: counts.failed }, { wrong: 0, failed: 0 });
  assert.ok(grown < 40 * MIB, `peak RSS grew ${Math.round(grown / MIB)} MiB for a ${bytes}-byte line`);
});

test('28.9: a child spamming stderr is relayed bounded, drops counted, and calls are not slowed', { timeout: 120_000 }, async (t) => {
  const proxy = await startProxy(['--shared', ...child('--flood-stderr')]);
  t.after(() => proxy.stop());
  const before = peakRss(proxy.proc.pid!);
  const counts = await bystander(proxy, proxy.waitForLog(/child stderr \(more of the same not logged\) .*skipped=\d{6,}/, 60_000));
  const grown = peakRss(proxy.proc.pid!) - before;
  t.diagnostic(`RSS peak before ${Math.round(before / MIB)} MiB, grown ${Math.round(grown / MIB)} MiB; bystander ${counts.calls} calls`);
  assert.deepEqual({ wrong: counts.wrong, failed: counts.failed }, { wrong: 0, failed: 0 });
  assert.ok(grown < 100 * MIB, `peak RSS grew ${Math.round(grown / MIB)} MiB`);
});

for (const [what, flag] of [['stdout', '--close-stdout-after-init'], ['stdin', '--close-stdin-after-init']] as const) {
  test(`28.10: a child that closes its ${what} but keeps running is stopped, its caller told why, and restarted`, { timeout: 60_000 }, async (t) => {
    const proxy = await startProxy(['--shared', '--request-timeout', '120', ...child(flag)]);
    t.after(() => proxy.stop());
    const { client } = await connectClient(proxy.url, 'streamable');
    t.after(() => client.close());
    const firstPid = (await serverStatus(proxy)).pids as number[];
    const { error, waitedMs } = await failure(client, 'echo', { text: 'anyone there?' });
    t.diagnostic(`${what}: error after ${waitedMs} ms (was --request-timeout)`);
    // A call written after stdin broke, before the child is stopped, is refused at once as not accepted.
    assert.match(error.message, new RegExp(`closed its ${what} but kept running, so it was stopped|upstream unavailable: not accepting input`));
    await proxy.waitForLog(new RegExp(`child exit .*fault="closed its ${what} but kept running"`));
    await proxy.waitForLog(/restarting child/);
    await eventually(async () => Number((await serverStatus(proxy)).restarts) >= 1, 15_000, 'a restart counted');
    assert.ok(firstPid.every((pid) => !isRunning(pid)), 'the broken child is gone');
  });
}

test('28.11: grandchildren that ignore SIGTERM do not outlive a proxy stopped with SIGTERM', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--shared', ...child('--fault-tools')]);
  const { client } = await connectClient(proxy.url, 'streamable');
  const { pid } = await callJson<{ pid: number }>(client, 'stubborn-grandchild');
  t.after(() => killAll([pid]));
  assert.ok(isRunning(pid));
  await client.close();
  const exit = await proxy.stop(20_000);
  assert.equal(exit.code, 0, `proxy exit ${JSON.stringify(exit)}`);
  // The proxy has exited: what it left behind would be running now (a second is for init to reap it).
  await allGone([pid], 1000, 'the stubborn grandchild');
});

test('28.13: ready means the child answers: not while its first handshake is unanswered, not once it stops reading stdin', { timeout: 90_000 }, async (t) => {
  const silent = await startProxy(['--shared', '--shutdown-timeout', '1', ...child('--start-delay=600000')]);
  t.after(() => silent.stop());
  await silent.waitForLog(/child started/);
  // A client's initialize reaches the child, which answers nothing (it reads stdin only after 10 minutes).
  const abort = new AbortController();
  t.after(() => abort.abort());
  void fetch(`${silent.url}/mcp`, {
    method: 'POST', signal: abort.signal, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
  }).catch(() => {});
  await eventually(async () => (await readyz(silent)).status === 503, 15_000, 'not ready while its handshake is unanswered');
  assert.match((await readyz(silent)).reason, /starting: the child has not answered yet/);
  assert.equal((await serverStatus(silent)).state, 'starting');
  const pids = (await serverStatus(silent)).pids as number[];
  t.after(() => killAll(pids));
  abort.abort();
  assert.equal((await silent.stop()).code, 0, 'stopped in time, not SIGKILLed by the harness');
  await allGone(pids, 5_000, 'the silent child after the proxy stopped');

  const proxy = await startProxy(['--shared', ...child('--stop-reading-after-init')]);
  t.after(() => proxy.stop());
  await eventually(async () => (await readyz(proxy)).status === 200, 15_000, 'ready once it answered');
  await eventually(async () => (await readyz(proxy)).status === 503, 30_000, 'not ready once it stopped reading stdin');
  const { reason } = await readyz(proxy);
  assert.match(reason, /not answering: a ping has had no answer for \d+ s|not reading its stdin/);
  assert.match(String((await serverStatus(proxy)).lastError), /not answering|not reading/);
});

test('28.13: a shared child nobody has connected to is starting until it answers the proxy\'s own handshake, then ready; a later client gets the cached result in its own version', { timeout: 60_000 }, async (t) => {
  // The child reads stdin only after 3 s, as a cold `npx -y` does after its install; no client connects.
  const proxy = await startProxy(['--shared', ...child('--start-delay=3000')]);
  t.after(() => proxy.stop());
  await proxy.waitForLog(/child started/);
  const early = await readyz(proxy);
  assert.equal(early.status, 503, 'a spawned child that has not answered is not ready');
  assert.match(early.reason, /starting: the child has not answered yet/);
  assert.equal((await serverStatus(proxy)).state, 'starting');
  const pids = (await serverStatus(proxy)).pids as number[];
  await eventually(async () => (await readyz(proxy)).status === 200, 15_000, 'ready once it answered the proxy\'s handshake, with no client connected');
  assert.equal((await serverStatus(proxy)).state, 'ready');
  // A later client's initialize is answered from the cache, in the version it asked for, by the same child.
  const session = new RawStreamable(proxy.url);
  const res = await session.post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'late', version: '1' } } });
  const init = (res.json ?? JSON.parse(/data: (.*)/.exec(res.text)![1]!)) as { result: { protocolVersion: string; serverInfo: { name: string } } };
  assert.equal(init.result.protocolVersion, '2025-06-18');
  assert.ok(init.result.serverInfo.name.length > 0);
  assert.deepEqual((await serverStatus(proxy)).pids, pids, 'no second child was started');
});

test('28.13: a crash-looping shared child never reads ready, between its restarts or while it runs', { timeout: 60_000 }, async (t) => {
  // Lives 400 ms, reads nothing, exits 3: restarted after 0.5 s, 1 s, 2 s…
  const proxy = await startProxy(['--shared', '--', process.execPath, '-e', 'setTimeout(() => process.exit(3), 400)']);
  t.after(() => proxy.stop());
  let polls = 0;
  const seen = new Set<string>();
  await eventually(async () => {
    const { status, reason } = await readyz(proxy);
    polls++;
    assert.equal(status, 503, `poll ${polls}: ready during a crash loop (${reason})`);
    seen.add(reason.startsWith('starting') ? 'starting' : reason.includes('exited with code 3') ? 'exited' : reason);
    return Number((await serverStatus(proxy)).restarts) >= 3;
  }, 30_000, 'three restarts');
  assert.ok(polls >= 20, `polled ${polls} times`);
  assert.ok(seen.has('starting') && seen.has('exited'), `seen ${[...seen].join(', ')}`);
});

test('28.13: a restarted 2026-07-28 child (its era known, the adapter answering initialize) is starting until it answers server/discover, then ready', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--shared', '--upstream-protocol', 'modern', '--', process.execPath, new URL('./fixtures/modern-server.mjs', import.meta.url).pathname]);
  t.after(() => proxy.stop());
  await eventually(async () => (await readyz(proxy)).status === 200, 15_000, 'the first child answered');
  const [first] = (await serverStatus(proxy)).pids as number[];
  process.kill(first!, 'SIGKILL');
  await eventually(async () => {
    const status = await serverStatus(proxy);
    return Number(status.restarts) >= 1 && (status.pids as number[]).length === 1 && (status.pids as number[])[0] !== first;
  }, 15_000, 'restarted');
  await eventually(async () => (await readyz(proxy)).status === 200, 15_000, 'the restarted child answered its server/discover');
  assert.equal(proxy.logs().match(/child answered first/g)?.length, 2, 'each child answered something of its own');
});

test('22.3: a child that fails to start says why: its last stderr lines (masked) in /status and in the caller\'s error', { timeout: 60_000 }, async (t) => {
  const key = 'sekrit-key-4711';
  const proxy = await startProxy(['--shared', ...child(`--stderr-then-exit=Error: Cannot find module 'ajv' (key ${key})`)], { env: { AUTH_KEY: key } });
  t.after(() => proxy.stop());
  const headers = { authorization: `Bearer ${key}` };
  await proxy.waitForLog(/restarting child/);
  const status = (await rawRequest(`${proxy.url}/status`, { headers })).json as { servers: Array<{ lastError: string; stderr: string[] }> };
  const [server] = status.servers;
  assert.match(server!.lastError, /exited with code 1: Error: Cannot find module 'ajv' \(key \[redacted\]\)/);
  assert.ok(server!.stderr.includes("Error: Cannot find module 'ajv' (key [redacted])"), JSON.stringify(server!.stderr));
  assert.ok(server!.stderr.length <= 20);
  assert.ok(!JSON.stringify(status).includes(key), 'the key is masked in /status');
  const raw = new RawStreamable(proxy.url, headers);
  t.after(() => raw.dispose());
  const init = await raw.initialize();
  assert.match(String(rpcErrorOf(init.json)?.message), /exited with code 1: Error: Cannot find module 'ajv'/, init.text);
  assert.ok(!init.text.includes(key), 'the key is masked in the error');
});

test("22.3: the console's server row shows a failed child's last stderr lines, masked", { timeout: 60_000 }, async (t) => {
  const launched = await launchBrowser();
  if (launched === undefined) {
    assert.notEqual(process.env.CI, 'true', 'chromium is not installed');
    return void t.skip('chromium is not installed (apt-get install chromium)');
  }
  t.after(() => launched.close());
  const key = 'sekrit-key-4712';
  const proxy = await startProxy(['--shared', ...child(`--stderr-then-exit=Error: Cannot find module 'ajv' (key ${key})`)], { env: { AUTH_KEY: key } });
  t.after(() => proxy.stop());
  const { page, errors } = await openPage(launched.browser);
  await page.goto(`${proxy.url}/`, { waitUntil: 'load' });
  await page.type('#key', key);
  await page.click('#key-form button');
  await page.waitForSelector('tr[data-server="default"] details.stderr pre', { timeout: 20_000 });
  const shown = await page.$eval('tr[data-server="default"] details.stderr pre', (pre) => pre.textContent ?? '');
  assert.match(shown, /Error: Cannot find module 'ajv' \(key \[redacted\]\)/);
  assert.ok(!shown.includes(key));
  assert.deepEqual(errors.filter((error) => !/401/.test(error)), []);
});
