// Remote entries of the servers file (src/config/remote-entry.ts), the event-stream parser the remote
// client reads answers with (src/upstream/remote/sse-reader.ts) and what an aggregate session's member
// sessions take of its environment (src/servers/aggregate/route-message.ts): pure tables.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigFileError, parseServersFile, type ServerDefaults } from '../src/config/config-file.ts';
import { parseAllowList } from '../src/config/env-policy.ts';
import { headersBesideVariables } from '../src/config/forwarded-headers.ts';
import { envFor } from '../src/servers/aggregate/route-message.ts';
import { remoteOptions } from '../src/servers/remote-member.ts';
import { Logger } from '../src/observe/log.ts';
import { DEFAULT_SANDBOX_SPEC } from '../src/upstream/sandbox/options.ts';
import { modernHeaders } from '../src/upstream/remote/stateless-client.ts';
import { SseReader, type SseEvent } from '../src/upstream/remote/sse-reader.ts';

const DEFAULTS: ServerDefaults = {
  shared: true, childPer: 'session', allowEnv: parseAllowList([]), upstreamProtocol: 'auto', requestTimeoutMs: 300_000, maxSessions: 0, lifecycle: 'eager', idleTimeoutMs: 600_000,
  sandbox: DEFAULT_SANDBOX_SPEC, envPassthrough: [],
};

function remoteOf(entry: Record<string, unknown>, env: Record<string, string> = {}) {
  return parseServersFile(JSON.stringify({ mcpServers: { api: entry } }), 'servers.json', env, DEFAULTS).servers[0]!;
}

test('a remote entry: url, type inferred or named, headers with ${VAR}, a private CA, forwarded headers', () => {
  const plain = remoteOf({ url: 'https://mcp.example.com/mcp' });
  assert.deepEqual(plain.remote, { url: 'https://mcp.example.com/mcp', type: undefined, headers: {}, caFile: undefined, forwardHeaders: [] });
  assert.equal(plain.command, '');
  assert.equal(remoteOf({ url: 'http://127.0.0.1:1/mcp', type: 'streamable-http' }).remote!.type, 'http');
  assert.equal(remoteOf({ url: 'http://127.0.0.1:1/mcp', type: 'http' }).remote!.type, 'http');
  assert.equal(remoteOf({ url: 'http://127.0.0.1:1/sse', type: 'sse' }).remote!.type, 'sse');
  const full = remoteOf({
    url: '${BASE}/mcp', headers: { Authorization: 'Bearer ${TOKEN}' }, tls: { ca: '/etc/ca.pem' },
    mode: 'independent', forwardHeaders: ['X-User', 'authorization'],
  }, { BASE: 'https://h.example', TOKEN: 't0k' });
  assert.deepEqual(full.remote, {
    url: 'https://h.example/mcp', type: undefined, headers: { authorization: 'Bearer t0k' }, caFile: '/etc/ca.pem', forwardHeaders: ['x-user', 'authorization'],
  });
});

test('bad remote entries: one message naming the server and the key', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ url: 'ftp://x/' }, /"url" must be http: or https:/],
    [{ url: 'not a url' }, /"url" is not a URL/],
    [{ url: 'https://u:p@x/' }, /must not carry credentials/],
    [{ url: 'https://x/', command: 'node' }, /either "command" \(stdio\) or "url"/],
    [{ url: 'https://x/', replicas: 2 }, /"replicas" is for stdio servers/],
    [{ url: 'https://x/', type: 'websocket' }, /"type" of a remote server must be http, streamable-http or sse/],
    [{ command: 'node', type: 'sse' }, /needs a "url"/],
    [{ url: 'https://x/', headers: { 'bad name': 'v' } }, /is not a header name/],
    [{ url: 'https://x/', headers: { a: 1 } }, /"headers.a" must be a string/],
    [{ url: 'https://x/', tls: { rejectUnauthorized: false } }, /"tls" takes only "ca"/],
    [{ url: 'https://x/', forwardHeaders: ['x-user'] }, /needs "mode": "independent"/],
    ...['Connection', 'host', 'Mcp-Session-Id', 'proxy-authorization', 'mcp-param-region', 'transfer-encoding'].map(
      (name): [Record<string, unknown>, RegExp] => [{ url: 'https://x/', mode: 'independent', forwardHeaders: [name] }, /is never passed on/],
    ),
    [{ url: 'https://x/', headers: { a: '${UNSET}' } }, /variable UNSET is not set/],
  ];
  for (const [entry, pattern] of cases) {
    assert.throws(() => remoteOf(entry), (err: Error) => err instanceof ConfigFileError && /server "api"/.test(err.message) && pattern.test(err.message), `${JSON.stringify(entry)}: ${pattern}`);
  }
});

test('2026-07-28 request headers mirror the body; values that are not plain ASCII are base64-wrapped', () => {
  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' };
  const call = modernHeaders({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'grüße', _meta: meta } });
  assert.equal(call['mcp-method'], 'tools/call');
  assert.equal(call['mcp-protocol-version'], '2026-07-28');
  assert.equal(call['mcp-name'], `=?base64?${Buffer.from('grüße').toString('base64')}?=`);
  assert.equal(modernHeaders({ jsonrpc: '2.0', id: 2, method: 'resources/read', params: { uri: 'file:///a', _meta: meta } })['mcp-name'], 'file:///a');
  assert.equal(modernHeaders({ jsonrpc: '2.0', id: 3, method: 'tools/list', params: { _meta: meta } })['mcp-name'], undefined);
});

test('the event-stream reader gives the same events however the bytes are split, CRLF and comments included', () => {
  const text = ': keep-alive\r\nid: 7\r\nevent: message\r\ndata: {"a":"ü"}\r\n\r\nid: 8\ndata: \n\nretry: 1500\nevent: endpoint\ndata: /messages?x=1\ndata: second\n\n';
  const bytes = Buffer.from(text, 'utf8');
  const expected: SseEvent[] = [
    { event: 'message', data: '{"a":"ü"}', id: '7' },
    { event: 'message', data: '', id: '8' },
    { event: 'endpoint', data: '/messages?x=1\nsecond', id: undefined },
  ];
  for (let cut = 0; cut <= bytes.length; cut++) {
    const events: SseEvent[] = [];
    const retries: number[] = [];
    const reader = new SseReader(1024, { event: (ev) => events.push(ev), retry: (ms) => retries.push(ms) });
    reader.push(bytes.subarray(0, cut));
    reader.push(bytes.subarray(cut));
    assert.deepEqual(events, expected, `split at ${cut}`);
    assert.deepEqual(retries, [1500]);
  }
  const capped = new SseReader(8, { event: () => {} });
  assert.throws(() => capped.push(Buffer.from('data: 0123456789')), /over 8 bytes/);
});

test('an aggregate session\'s environment: a forwarding remote takes its listed headers, any other member the variables it allows', () => {
  const env = { TENANT: 'a', ...headersBesideVariables({ 'x-user': 'ada', 'x-other': 'o' }) };
  const remote = remoteOf({ url: 'https://x/', mode: 'independent', forwardHeaders: ['X-User', 'X-Absent'] });
  assert.deepEqual(envFor(remote, env, new Set()), headersBesideVariables({ 'x-user': 'ada' }));
  assert.deepEqual(envFor(remoteOf({ command: 'node', mode: 'independent', allowEnv: ['*'] }), env, new Set()), { TENANT: 'a' });
  assert.deepEqual(envFor(remoteOf({ command: 'node', mode: 'independent', allowEnv: ['OTHER'] }), env, new Set()), {});
});

test('a member connection sends only the client headers its forwardHeaders lists, under the operator\'s own', () => {
  const spec = remoteOf({ url: 'https://x/mcp', mode: 'independent', headers: { 'x-team': 'operator' }, forwardHeaders: ['X-User', 'X-Team'] });
  // A session's map on the member's own route: its forwarded headers, plus a variable from a token claim.
  const options = remoteOptions({ spec, config: { maxMessageBytes: 1024 } }, { era: 'legacy' }, new Logger('error', 'text', { write: () => {} }), { ...headersBesideVariables({ 'x-user': 'ada', 'x-team': 'mine' }), USER_EMAIL: 'ada@example.com' });
  assert.deepEqual(options.target.headers, { 'x-user': 'ada', 'x-team': 'operator' });
});
