/**
 * Named keys (issue 13) against the built binary: each key's name is a principal, a SIGHUP reload adds
 * and removes keys (a removed key's sessions end, the others' go on), the audit log has a line per
 * call with its principal, and the rate limit is per principal: a flooder gets 429s while every call
 * of a quiet principal is admitted and answered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectClient, eventually, FIXTURE, startProxy, textOf } from './helpers/proxy.ts';
import { initParams, rawRequest, rpcErrorOf } from './helpers/ops.ts';

const CHILD = ['--', process.execPath, FIXTURE];
const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

function keysFile(text: string): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-keys-'));
  const path = join(dir, 'keys');
  writeFileSync(path, text);
  return { dir, path };
}

test('two named keys, each its own principal; SIGHUP adds one and removes one, ending only its sessions', { timeout: 60_000 }, async (t) => {
  const { dir, path } = keysFile('alice:alice-key-0001\nbob:bob-key-00002\n');
  const audit = join(dir, 'audit.jsonl');
  const proxy = await startProxy(['--auth-keys-file', path, '--auth-key', 'the-default-key', '--audit-log', audit, ...CHILD]);
  t.after(() => proxy.stop());
  const alice = await connectClient(proxy.url, 'streamable', { headers: bearer('alice-key-0001'), name: 'alice-app' });
  const bob = await connectClient(proxy.url, 'sse', { query: 'auth_key=bob-key-00002', name: 'bob-app' });
  const dflt = await connectClient(proxy.url, 'streamable', { headers: bearer('the-default-key') });
  t.after(() => Promise.all([alice.client.close(), bob.client.close(), dflt.client.close()]));
  for (const { client } of [alice, bob, dflt]) assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'hi' } })), 'hi');
  assert.equal((await rawRequest(`${proxy.url}/status`, { headers: bearer('carol-key-0003') })).status, 401, 'carol is not a key yet');

  writeFileSync(path, 'alice:alice-key-0001\ncarol:carol-key-0003\n');
  proxy.proc.kill('SIGHUP');
  await proxy.waitForLog(/keys reloaded keys=2 removed=bob/);
  assert.equal((await rawRequest(`${proxy.url}/status`, { headers: bearer('carol-key-0003') })).status, 200, 'carol was added');
  assert.equal((await rawRequest(`${proxy.url}/status`, { headers: bearer('bob-key-00002') })).status, 401, 'bob was removed');
  await proxy.waitForLog(/session closed session=\S+ transport=sse reason="its access key was removed"/);
  assert.equal(textOf(await alice.client.callTool({ name: 'echo', arguments: { text: 'still' } })), 'still', 'alice\'s session survived the reload');

  let lines: Array<Record<string, unknown>> = [];
  await eventually(() => {
    lines = readFileSync(audit, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    return lines.filter((line) => line.method === 'tools/call').length === 4;
  }, 10_000, 'four audited calls');
  const byPrincipal = (id: string): Array<Record<string, unknown>> => lines.filter((line) => line.principal === id && line.method === 'tools/call');
  assert.equal(byPrincipal('key:alice').length, 2);
  assert.equal(byPrincipal('key:bob').length, 1);
  assert.equal(byPrincipal('key:default').length, 1);
  assert.deepEqual({ ...byPrincipal('key:bob')[0], time: undefined, ms: undefined, session: undefined, bytesIn: undefined, bytesOut: undefined, id: undefined }, {
    time: undefined, principal: 'key:bob', auth: 'key', server: 'default', session: undefined, transport: 'sse', era: byPrincipal('key:bob')[0]!.era,
    method: 'tools/call', name: 'echo', id: undefined, outcome: 'result', ms: undefined, bytesIn: undefined, bytesOut: undefined, client: { name: 'bob-app', version: '1.0.0' },
  });
  assert.ok(!readFileSync(audit, 'utf8').includes('"hi"'), 'arguments and results stay out of the audit log');
  assert.ok(!proxy.logs().includes('alice-key-0001'), 'keys never reach the log');
});

test('rate limit per principal: the flooder gets 429s, every call of the quiet principal is admitted and answered', { timeout: 60_000 }, async (t) => {
  const { path } = keysFile('flood:flood-key-001\nquiet:quiet-key-001\n');
  // Per minute, so the bucket does not refill while a loaded machine delivers the flood over seconds.
  const proxy = await startProxy(['--auth-keys-file', path, '--rate-limit', '5/m', ...CHILD]);
  t.after(() => proxy.stop());
  const call = async (key: string, n: number): Promise<{ status: number; retryAfter: string | undefined; body: unknown }> => {
    const res = await rawRequest(`${proxy.url}/mcp`, {
      method: 'POST', headers: { ...JSON_HEADERS, ...bearer(key), 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' },
      body: JSON.stringify({ jsonrpc: '2.0', id: n, method: 'tools/call', params: { name: 'echo', arguments: { text: `m${n}` }, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } } }),
    });
    return { status: res.status, retryAfter: res.headers['retry-after'] as string | undefined, body: res.json };
  };
  // The flooder fires 60 calls at once; the quiet principal makes 4 calls spread over the same time.
  const flood = Array.from({ length: 60 }, (_, n) => call('flood-key-001', n));
  const quiet: Array<Awaited<ReturnType<typeof call>>> = [];
  for (let n = 0; n < 4; n++) {
    quiet.push(await call('quiet-key-001', n));
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const flooded = await Promise.all(flood);
  const counts = (list: typeof quiet): Record<number, number> => list.reduce<Record<number, number>>((acc, { status }) => ({ ...acc, [status]: (acc[status] ?? 0) + 1 }), {});
  t.diagnostic(`flooder: ${JSON.stringify(counts(flooded))}; quiet: ${JSON.stringify(counts(quiet))}`);
  assert.deepEqual(counts(quiet), { 200: 4 }, 'every quiet call admitted and answered');
  assert.ok((counts(flooded)[429] ?? 0) >= 50, 'the flooder is refused past its burst');
  assert.ok((counts(flooded)[200] ?? 0) >= 5, 'the flooder\'s burst is admitted');
  const refused = flooded.find((res) => res.status === 429)!;
  assert.match(refused.retryAfter ?? '', /^\d+$/);
  assert.match(rpcErrorOf(refused.body)?.message ?? '', /Too Many Requests: over 5\/m for flood/);
  for (const res of quiet) assert.match(JSON.stringify(res.body), /echo|m\d/);
});

test('rate limit on the SSE /messages post answers 429 with a JSON-RPC body too', { timeout: 30_000 }, async (t) => {
  const { path } = keysFile('one:one-key-0001\n');
  const proxy = await startProxy(['--auth-keys-file', path, '--rate-limit', '2/m', ...CHILD]);
  t.after(() => proxy.stop());
  const controller = new AbortController();
  t.after(() => controller.abort());
  const res = await fetch(`${proxy.url}/sse?auth_key=one-key-0001`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
  const reader = res.body!.getReader();
  let text = '';
  while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
  const endpoint = /data: (.*)/.exec(text)![1]!;
  const post = (): ReturnType<typeof rawRequest> => rawRequest(`${proxy.url}${endpoint}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: initParams() }),
  });
  assert.equal((await post()).status, 202, 'the GET took one token, this post the second');
  const limited = await post();
  assert.equal(limited.status, 429);
  assert.match(String(limited.headers['retry-after']), /^\d+$/);
  assert.equal(rpcErrorOf(limited.json)?.code, -32000);
});
