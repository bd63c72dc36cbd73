/**
 * `subscriptions/listen` (2026-07-28) through the identity gate (issue 13), against the built binary
 * with named keys: the SDK 2.4 client's listen streams get one audit line each when they end (cancelled
 * when the client closes, result when the proxy ends it), what they deliver names no tool, and the
 * principal's rate limit refuses a listen past its budget while another principal's is admitted.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Client as ClientV2, StreamableHTTPClientTransport as StreamableV2 } from '@modelcontextprotocol/client';
import { eventually, FIXTURE, startProxy, withDeadline, type RunningProxy } from './helpers/proxy.ts';

const KEYS = { alice: 'alice-key-0001', bob: 'bob-key-00002' };
const bearer = (user: keyof typeof KEYS): Record<string, string> => ({ authorization: `Bearer ${KEYS[user]}` });
type AuditLine = Record<string, unknown>;

function keysDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-listen-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'keys'), `alice:${KEYS.alice}\nbob:${KEYS.bob}\n`);
  return dir;
}

async function modernClient(t: TestContext, proxy: RunningProxy, user: keyof typeof KEYS): Promise<ClientV2> {
  const client = new ClientV2({ name: `${user}-listener`, version: '2.4.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  await withDeadline(client.connect(new StreamableV2(new URL(`${proxy.url}/mcp`), { requestInit: { headers: bearer(user) } })), 15_000, `connect ${user}`);
  t.after(() => client.close());
  return client;
}

test('a listen stream is audited when it ends: cancelled when the client closes it, result when the proxy ends it; it delivers no tool names', { timeout: 60_000 }, async (t) => {
  const dir = keysDir(t);
  const auditPath = join(dir, 'audit.jsonl');
  const proxy = await startProxy(['--auth-keys-file', join(dir, 'keys'), '--audit-log', auditPath, '--allow-tools', 'alice=echo,notify-list-changed', '--', process.execPath, FIXTURE]);
  t.after(() => proxy.stop());
  const client = await modernClient(t, proxy, 'alice');
  const changes: unknown[] = [];
  client.setNotificationHandler('notifications/tools/list_changed', (note) => void changes.push(note.params));

  const first = await client.listen({ toolsListChanged: true });
  assert.deepEqual(first.honoredFilter, { toolsListChanged: true });
  await client.callTool({ name: 'notify-list-changed', arguments: {} });
  await eventually(() => changes.length === 1, 10_000, 'list_changed on the stream');
  // What a listen stream carries about tools: that the list changed, never which tools it holds.
  assert.ok(!JSON.stringify(changes).includes('"name"'), JSON.stringify(changes));
  assert.deepEqual((await client.listTools()).tools.map((tool) => tool.name).sort(), ['echo', 'notify-list-changed'], 'the list it prompts is filtered');
  await first.close();
  const readAudit = (): AuditLine[] => readFileSync(auditPath, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as AuditLine);
  const listens = (): AuditLine[] => readAudit().filter((line) => line.method === 'subscriptions/listen');
  await eventually(() => listens().length === 1, 10_000, 'the closed listen audited');
  const [closed] = listens();
  assert.equal(closed!.outcome, 'cancelled');
  assert.equal(closed!.principal, 'key:alice');
  assert.equal(closed!.transport, 'stateless');
  assert.equal(closed!.era, '2026-07-28');
  assert.deepEqual(closed!.client, { name: 'alice-listener', version: '2.4.0' });
  assert.equal(typeof closed!.ms, 'number');
  assert.match(String(closed!.id), /^listen:/, 'the listen request\'s own id');

  const second = await client.listen({ toolsListChanged: true });
  await proxy.stop(); // shutdown ends every listen stream with its complete result, then flushes the audit log
  assert.equal(await withDeadline(second.closed, 10_000, 'second listen closed'), 'graceful');
  const ended = listens();
  assert.equal(ended.length, 2, JSON.stringify(ended));
  assert.deepEqual({ outcome: ended[1]!.outcome, principal: ended[1]!.principal }, { outcome: 'result', principal: 'key:alice' });
  assert.ok((ended[1]!.bytesOut as number) > 0, 'the complete result it ended with');
});

test('rate limit: a listen takes a token from its principal\'s bucket; past the budget it is 429 while another principal listens', { timeout: 60_000 }, async (t) => {
  const dir = keysDir(t);
  // Per minute, so the bucket does not refill while a loaded machine runs the test.
  const proxy = await startProxy(['--auth-keys-file', join(dir, 'keys'), '--rate-limit', '2/m', '--', process.execPath, FIXTURE]);
  t.after(() => proxy.stop());
  const aborts: AbortController[] = [];
  t.after(() => { for (const abort of aborts) abort.abort(); });
  const listen = async (user: keyof typeof KEYS, id: number): Promise<Response> => {
    const abort = new AbortController();
    aborts.push(abort);
    return fetch(`${proxy.url}/mcp`, {
      method: 'POST',
      signal: abort.signal,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen', ...bearer(user) },
      body: JSON.stringify({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params: {
        notifications: { toolsListChanged: true },
        _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} },
      } }),
    });
  };
  const statuses = [];
  for (let id = 1; id <= 3; id++) statuses.push((await listen('bob', id)).status);
  assert.deepEqual(statuses, [200, 200, 429], 'two listens in bob\'s budget, the third refused');
  const refused = await listen('bob', 4);
  assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/);
  const body = await refused.json() as { id: unknown; error: { code: number; message: string } };
  assert.match(body.error.message, /Too Many Requests: over 2\/m for bob/);
  const other = await listen('alice', 5);
  assert.equal(other.status, 200, 'alice\'s bucket is her own');
  assert.equal(other.headers.get('content-type')?.split(';')[0], 'text/event-stream');
});
