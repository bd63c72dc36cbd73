// Upstream era detection (src/upstream/era-probe.ts, upstream-route.ts, era-memory.ts): the discover
// reply classification as a table, then the built binary in front of real children whose starts are
// counted by a wrapper (and delayed 7 s for a slow start): the era is told on the real child's first
// handshake, the command runs once per child (no sibling), a slow start gets the fast one's verdict.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyProbeReply, PROBE_ID, type ProbeVerdict } from '../src/upstream/era-probe.ts';
import type { JsonRpcResponse } from '../src/protocol/message.ts';
import { connectClient, eventually, FIXTURE, startProxy, textOf, withDeadline, type RunningProxy } from './helpers/proxy.ts';

const MODERN_FIXTURE = new URL('./fixtures/modern-server.mjs', import.meta.url).pathname;
const discover = { resultType: 'complete', supportedVersions: ['2026-07-28'], capabilities: { tools: {} }, ttlMs: 0, cacheScope: 'private' };

const ok = (result: unknown): JsonRpcResponse => ({ jsonrpc: '2.0', id: PROBE_ID, result });
const err = (code: number, data?: unknown): JsonRpcResponse => ({ jsonrpc: '2.0', id: PROBE_ID, error: { code, message: 'x', ...(data === undefined ? {} : { data }) } });

const TABLE: Array<[string, JsonRpcResponse, ProbeVerdict['kind'], string?]> = [
  ['DiscoverResult with a shared version', ok(discover), 'modern', '2026-07-28'],
  ['shared version picked from several', ok({ ...discover, supportedVersions: ['2025-11-25', '2026-07-28', '2099-01-01'] }), 'modern', '2026-07-28'],
  ['DiscoverResult without resultType', ok({ supportedVersions: ['2026-07-28'], capabilities: {} }), 'modern', '2026-07-28'],
  ['no shared version', ok({ ...discover, supportedVersions: ['2099-01-01'] }), 'legacy'],
  ['no capabilities', ok({ resultType: 'complete', supportedVersions: ['2026-07-28'] }), 'legacy'],
  ['supportedVersions not a list', ok({ ...discover, supportedVersions: '2026-07-28' }), 'legacy'],
  ['resultType input_required', ok({ ...discover, resultType: 'input_required' }), 'legacy'],
  ['empty result', ok({}), 'legacy'],
  ['-32022 naming a version we serve', err(-32022, { supported: ['2026-07-28'], requested: '2027-01-01' }), 'retry', '2026-07-28'],
  ['-32022 naming legacy versions only', err(-32022, { supported: ['2025-11-25'] }), 'legacy'],
  ['-32022 naming modern versions we do not serve', err(-32022, { supported: ['2099-01-01'] }), 'legacy'],
  ['-32022 without data', err(-32022), 'legacy'],
  ['-32601 method not found', err(-32601), 'legacy'],
  ['-32602 invalid params', err(-32602), 'legacy'],
  ['-32000 server not initialized', err(-32000), 'legacy'],
  ['-32001', err(-32001), 'legacy'],
];

for (const [name, reply, kind, version] of TABLE) {
  test(`discover reply: ${name} → ${kind}`, () => {
    const verdict = classifyProbeReply(reply);
    assert.equal(verdict.kind, kind);
    if (version !== undefined) assert.equal((verdict as { version: string }).version, version);
  });
}

/** A temp dir with a wrapper that appends its pid to `starts`, sleeps `delayMs` (stdin unread), then becomes `target`. */
function workDir(t: TestContext): { dir: string; starts: string; wrap: (target: string, delayMs: number, ...args: string[]) => string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-detect-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const wrapper = join(dir, 'wrap.mjs');
  writeFileSync(wrapper, `
import { appendFileSync } from 'node:fs';
const [starts, delayMs, target, ...rest] = process.argv.slice(2);
appendFileSync(starts, process.pid + '\\n');
if (Number(delayMs) > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(delayMs));
process.argv = [process.argv[0], target, ...rest];
await import(target);
`);
  const starts = join(dir, 'starts');
  return { dir, starts, wrap: (target, delayMs, ...args) => [process.execPath, wrapper, starts, String(delayMs), target, ...args] };
}

function startCount(file: string): number {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0;
}

/** The era the proxy logged for its server (once a client made it tell). */
async function verdict(proxy: RunningProxy): Promise<string> {
  return (await proxy.waitForLog(/upstream protocol era=[^\n]*/, 30_000)).replace('upstream protocol ', '');
}

/** Connects an SDK 1.32 client (waiting out a slow start) and calls echo: the server serves. */
async function callEcho(t: TestContext, proxy: RunningProxy): Promise<void> {
  const { client } = await connectClient(proxy.url, 'streamable', { connectMs: 60_000 });
  t.after(() => client.close());
  assert.equal(textOf(await withDeadline(client.callTool({ name: 'echo', arguments: { text: 'hi' } }), 15_000, 'echo')), 'hi');
}

const KINDS = [
  { name: 'the legacy fault fixture', target: FIXTURE, args: [], era: 'era=legacy' },
  { name: 'the dual-era SDK 2.4 serveStdio fixture', target: MODERN_FIXTURE, args: [], era: 'era=legacy' },
  { name: 'the modern-only SDK 2.4 fixture', target: MODERN_FIXTURE, args: ['--modern-only'], era: 'era=modern' },
];

for (const kind of KINDS) {
  test(`${kind.name}: a 7 s start gets the fast start's verdict (${kind.era}), and the command runs once`, { timeout: 120_000 }, async (t) => {
    const fast = workDir(t);
    const slow = workDir(t);
    const [fastProxy, slowProxy] = await Promise.all([
      startProxy(['--shared', '--', ...fast.wrap(kind.target, 0, ...kind.args)]),
      startProxy(['--shared', '--', ...slow.wrap(kind.target, 7000, ...kind.args)]),
    ]);
    t.after(() => Promise.all([fastProxy.stop(), slowProxy.stop()]));
    await Promise.all([callEcho(t, fastProxy), callEcho(t, slowProxy)]);
    assert.match(await verdict(fastProxy), new RegExp(kind.era));
    assert.match(await verdict(slowProxy), new RegExp(kind.era));
    // One process per proxy: no sibling ran the command, before or beside the child.
    assert.equal(startCount(fast.starts), 1, 'the fast server was started once');
    assert.equal(startCount(slow.starts), 1, 'the slow server was started once');
    // The start (spawn → first answer) is logged, and the slow one shows its wait.
    const slowMs = Number(/child answered first startMs=(\d+)/.exec(slowProxy.logs())?.[1]);
    assert.ok(slowMs >= 7000, `the slow start is logged with its cost (${slowMs} ms)`);
    assert.doesNotMatch(slowProxy.logs(), /restarting child|exited/);
  });
}

test('independent mode: the first child detects, the next one starts from its verdict', { timeout: 90_000 }, async (t) => {
  const work = workDir(t);
  const proxy = await startProxy(['--no-shared', '--', ...work.wrap(MODERN_FIXTURE, 0, '--modern-only')]);
  t.after(() => proxy.stop());
  await callEcho(t, proxy);
  await callEcho(t, proxy);
  assert.equal(startCount(work.starts), 2, 'one start per session, none for a probe');
  assert.equal(proxy.logs().match(/upstream protocol era=modern/g)?.length, 1, 'detected once');
  assert.match(proxy.logs(), /child answered first [^\n]*startMs=\d+ detecting=no/, 'the second child skipped detection');
});

test('a verdict is kept in the state dir: the next run asks server/discover first', { timeout: 90_000 }, async (t) => {
  const work = workDir(t);
  const stateDir = join(work.dir, 'state');
  const args = ['--shared', '--state-dir', stateDir, '--', ...work.wrap(MODERN_FIXTURE, 0, '--modern-only')];
  const first = await startProxy(args);
  t.after(() => first.stop());
  await callEcho(t, first);
  assert.match(await verdict(first), /era=modern version=2026-07-28 via=discover$/);
  await first.stop();
  const files = readdirSync(join(stateDir, 'eras'));
  assert.equal(files.length, 1);
  assert.deepEqual(JSON.parse(readFileSync(join(stateDir, 'eras', files[0]!), 'utf8')), { era: 'modern' });

  const second = await startProxy(args);
  t.after(() => second.stop());
  // Asked first, on the child's own start: known before any client comes.
  assert.match(await verdict(second), /era=modern version=2026-07-28 via=discover-first/);
  await callEcho(t, second);
});

/** A scripted stdio server: `behaviour(msg)` returns the reply fields, 'exit', or undefined (no reply). */
function scripted(dir: string, name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `
import { createInterface } from 'node:readline';
const discover = ${JSON.stringify(discover)};
const tools = { resultType: 'complete', tools: [{ name: 'echo', inputSchema: { type: 'object' } }], ttlMs: 0, cacheScope: 'private' };
let discovers = 0;
process.stdout.write('not json at all\\r\\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const msg = JSON.parse(line);
  if (msg.id === undefined) return;
  const send = (m) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: msg.id, ...m }) + '\\r\\n');
  ${body}
  if (msg.method === 'tools/list') return send({ result: tools });
  if (msg.method === 'tools/call') return send({ result: { resultType: 'complete', content: [{ type: 'text', text: msg.params.arguments.text }] } });
});
`);
  return file;
}

test('-32022 naming a version we serve earns one corrective re-ask on the same child', { timeout: 60_000 }, async (t) => {
  const work = workDir(t);
  const picky = scripted(work.dir, 'picky.mjs', `
  if (msg.method === 'initialize') return send({ error: { code: -32601, message: 'Method not found' } });
  if (msg.method === 'server/discover' && ++discovers === 1) return send({ error: { code: -32022, message: 'Unsupported protocol version', data: { supported: ['2026-07-28'], requested: 'x' } } });
  if (msg.method === 'server/discover') return send({ result: discover });`);
  const proxy = await startProxy(['--shared', '--', ...work.wrap(picky, 0)]);
  t.after(() => proxy.stop());
  await callEcho(t, proxy);
  assert.match(await verdict(proxy), /era=modern/);
  assert.equal(startCount(work.starts), 1);
});

test('a child that exits on its first initialize is restarted and asked server/discover first', { timeout: 60_000 }, async (t) => {
  const work = workDir(t);
  const fragile = scripted(work.dir, 'fragile.mjs', `
  if (msg.method === 'initialize') process.exit(3);
  if (msg.method === 'server/discover') return send({ result: discover });`);
  const proxy = await startProxy(['--shared', '--', ...work.wrap(fragile, 0)]);
  t.after(() => proxy.stop());
  // The first handshake fails with the child; a retry reaches the restarted child, asked the other era first.
  await eventually(async () => {
    try {
      await callEcho(t, proxy);
      return true;
    } catch {
      return false;
    }
  }, 30_000, 'a client served after the restart');
  assert.match(await verdict(proxy), /era=modern version=2026-07-28 via=discover-first/);
  assert.match(proxy.logs(), /child exited on its first request; the next start tries the other era first/);
  assert.equal(startCount(work.starts), 2, 'the first child and its one restart');
});
