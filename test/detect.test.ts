// Upstream era detection (src/modern/detect.ts): the probe-reply classification as a table, then real
// processes: the SDK 2.4 modern fixture, the legacy fault fixture (answers, crashes, stays silent),
// and a scripted child that answers -32022 first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyProbeReply, detectUpstreamProtocol, PROBE_ID, type ProbeVerdict } from '../src/upstream/era-probe.ts';
import { Logger } from '../src/observe/log.ts';
import type { JsonRpcResponse } from '../src/protocol/message.ts';
import { FIXTURE } from './helpers/proxy.ts';

const MODERN_FIXTURE = new URL('./fixtures/modern-server.mjs', import.meta.url).pathname;
const log = new Logger('error', 'text', { write: () => {} });
const discover = { resultType: 'complete', supportedVersions: ['2026-07-28'], capabilities: {}, ttlMs: 0, cacheScope: 'private' };

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
  test(`probe reply: ${name} → ${kind}`, () => {
    const verdict = classifyProbeReply(reply);
    assert.equal(verdict.kind, kind);
    if (version !== undefined) assert.equal((verdict as { version: string }).version, version);
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs detection on a node script. */
async function detect(args: string[], timeoutMs = 20_000) {
  return detectUpstreamProtocol({ command: process.execPath, args, env: process.env, timeoutMs, log });
}

test('the SDK 2.4 serveStdio fixture is modern, with its discover result', { timeout: 30_000 }, async () => {
  const era = await detect([MODERN_FIXTURE]);
  assert.equal(era.era, 'modern');
  if (era.era !== 'modern') return;
  assert.equal(era.version, '2026-07-28');
  assert.deepEqual(era.discover.supportedVersions, ['2026-07-28']);
  assert.deepEqual((era.discover._meta as Record<string, unknown>)['io.modelcontextprotocol/serverInfo'], { name: 'modern-fixture', version: '1.0.0' });
});

test('the legacy fault fixture is legacy (it answers an error before initialize)', { timeout: 30_000 }, async () => {
  assert.deepEqual(await detect([FIXTURE]), { era: 'legacy' });
});

test('a legacy server that crashes on a request before initialize is legacy', { timeout: 30_000 }, async () => {
  assert.deepEqual(await detect([FIXTURE, '--crash-before-init']), { era: 'legacy' });
});

test('a legacy server that stays silent is legacy after the timeout, and the probe is stopped', { timeout: 30_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-detect-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pidFile = join(dir, 'pid');
  // A wrapper that records the pid of the fault fixture it becomes (same process: import).
  const wrapper = join(dir, 'silent.mjs');
  writeFileSync(wrapper, `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(pidFile)}, String(process.pid));\nprocess.argv.push('--silent-before-init');\nawait import(${JSON.stringify(FIXTURE)});\n`);
  // Long enough for a loaded machine to start node and write the pid before the probe gives up.
  assert.deepEqual(await detect([wrapper], 3000), { era: 'legacy' });
  const pid = Number(readFileSync(pidFile, 'utf8'));
  assert.equal(isAlive(pid), false, 'the probe process is gone when detection returns');
});

test('a command that cannot be started is legacy (the real spawn reports it)', { timeout: 30_000 }, async () => {
  const era = await detectUpstreamProtocol({ command: '/nonexistent/mcp-server', args: [], env: process.env, timeoutMs: 5000, log });
  assert.deepEqual(era, { era: 'legacy' });
});

test('-32022 naming a version we serve earns one corrective re-probe', { timeout: 30_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-detect-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'picky.mjs');
  // Answers the first discover with -32022, the second with a DiscoverResult; noise on stdout and stderr.
  writeFileSync(script, `
import { createInterface } from 'node:readline';
let n = 0;
process.stdout.write('not json at all\\r\\n');
process.stderr.write('stderr noise\\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const msg = JSON.parse(line);
  const send = (m) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: msg.id, ...m }) + '\\r\\n');
  if (++n === 1) send({ error: { code: -32022, message: 'Unsupported protocol version', data: { supported: ['2026-07-28'], requested: 'x' } } });
  else send({ result: ${JSON.stringify(discover)} });
});
`);
  const era = await detect([script]);
  assert.equal(era.era, 'modern');
});
