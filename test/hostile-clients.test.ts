/**
 * One client trying to exhaust the proxy (issue 28): what it sends is bounded where the proxy keeps it,
 * and a bystander client's calls stay right throughout. RSS is read from /proc/<pid>/status.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { FIXTURE, eventually, startProxy, textOf } from './helpers/proxy.ts';
import { RawStreamable, rawRequest, rssBytes } from './helpers/ops.ts';
import { startBystander } from './helpers/bystander.ts';

const KEY = 'hostile-test-key-0123456789';
const AUTH = { authorization: `Bearer ${KEY}` };
const MIB = 1024 * 1024;

test('client-chosen method names are cut and masked in /status, and invented ones add one metrics series', { timeout: 120_000 }, async (t) => {
  const proxy = await startProxy(['--auth-key', KEY, '--', process.execPath, FIXTURE]);
  t.after(() => proxy.stop());
  const bystander = await startBystander(proxy.url, AUTH);
  t.after(() => bystander.stop());
  const attacker = new RawStreamable(proxy.url, AUTH);
  assert.equal((await attacker.initialize()).status, 200);
  t.after(() => attacker.dispose());
  const rssBefore = rssBytes(proxy.proc.pid!);

  // Names a loose pattern would take for real ones (lowercase words and slashes), each different.
  const invented = (i: number): string => `invented/${[...i.toString(26)].map((d) => String.fromCharCode(97 + parseInt(d, 26))).join('')}`;
  for (let i = 0; i < 300; i++) await attacker.post({ jsonrpc: '2.0', id: 1000 + i, method: invented(i) });
  for (let i = 0; i < 12; i++) {
    const res = await attacker.post({ jsonrpc: '2.0', id: i, method: `m${i}/${KEY}/${'x'.repeat(15 * MIB)}` });
    assert.equal(res.status, 200, 'a long method name is the server\'s to refuse');
  }
  for (let i = 0; i < 38; i++) await attacker.post({ jsonrpc: '2.0', id: 2000 + i, method: `evil/${KEY}` });

  const status = await rawRequest(`${proxy.url}/status`, { headers: AUTH });
  assert.equal(status.status, 200);
  assert.ok(status.text.length < 64 * 1024, `/status stays small (${status.text.length} chars)`);
  const errors = (status.json as { errors: Array<{ method: string; message: string }> }).errors;
  assert.equal(errors.length, 50);
  for (const entry of errors) assert.ok(entry.method.length <= 100 && entry.message.length <= 200, 'every stored client string is bounded');
  assert.ok(!status.text.includes(KEY), 'the key never shows in /status');
  const withKey = (await rawRequest(`${proxy.url}/status`, { headers: AUTH })).json as { errors: Array<{ method: string }> };
  assert.ok(withKey.errors.every((e) => !e.method.includes(KEY)));

  const metrics = await rawRequest(`${proxy.url}/metrics`, { headers: AUTH });
  const methods = new Set([...metrics.text.matchAll(/^mcpproxy_requests_total\{[^}]*method="([^"]*)"/gm)].map((m) => m[1]));
  assert.ok(methods.has('other') && methods.has('tools/call'), `known methods and one "other": ${[...methods].join(' ')}`);
  assert.ok(methods.size <= 4, `invented names do not add series: ${[...methods].slice(0, 10).join(' ')}`);

  const counts = await bystander.stop();
  const rssAfter = rssBytes(proxy.proc.pid!);
  t.diagnostic(`RSS before ${Math.round(rssBefore / MIB)} MiB, after ${Math.round(rssAfter / MIB)} MiB; bystander ${JSON.stringify(counts)}`);
  assert.ok(counts.ok > 0);
  assert.equal(counts.wrong + counts.failed, 0);
});

/** Sends `request` on a raw socket that never reads its answer; resolves once the request is written. */
function neverReading(port: number, request: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.pause();
      socket.write(request, () => resolve(socket));
    });
    socket.once('error', reject);
  });
}

function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

test('answers a client never reads are cut off after --write-timeout, JSON and SSE alike', { timeout: 120_000 }, async (t) => {
  const proxy = await startProxy(['--write-timeout', '2', '--', process.execPath, FIXTURE]);
  t.after(() => proxy.stop());
  const bystander = await startBystander(proxy.url);
  t.after(() => bystander.stop());
  const rssBefore = rssBytes(proxy.proc.pid!);
  const sockets: Socket[] = [];
  t.after(() => { for (const socket of sockets) socket.destroy(); });
  const body = JSON.stringify({ bytes: 8 * MIB });
  for (let i = 0; i < 30; i++) {
    // Half as plain JSON, half as an SSE answer of /tools/<name>: both kinds are bounded the same way.
    const accept = i % 2 === 0 ? 'application/json' : 'text/event-stream';
    sockets.push(await neverReading(proxy.port, `POST /tools/big HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\naccept: ${accept}\r\ncontent-length: ${body.length}\r\n\r\n${body}`));
  }
  let rssPeak = 0;
  await eventually(async () => {
    rssPeak = Math.max(rssPeak, rssBytes(proxy.proc.pid!));
    const metrics = await rawRequest(`${proxy.url}/metrics`);
    return metricValue(metrics.text, 'mcpproxy_responses_cut_total{reason="write-timeout"}') === 30;
  }, 60_000, 'all 30 stalled answers cut off');
  const counts = await bystander.stop();
  const rssAfter = rssBytes(proxy.proc.pid!);
  t.diagnostic(`RSS before ${Math.round(rssBefore / MIB)} MiB, peak ${Math.round(rssPeak / MIB)} MiB, after ${Math.round(rssAfter / MIB)} MiB; bystander ${JSON.stringify(counts)}`);
  assert.ok(counts.ok > 0);
  assert.equal(counts.wrong + counts.failed, 0);
  assert.match(proxy.logs(), /response cut off: the client did not read reason=write-timeout path=\/tools\/big/);
});

/** POSTs `body` with node:http and resolves with the status and body, or the error's code (ECONNRESET, EPIPE…). */
function nodePost(url: string, body: Buffer): Promise<{ status: number; text: string } | string> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end(body);
  });
}

async function fetchPost(url: string, body: Buffer): Promise<{ status: number; text: string } | string> {
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body });
    return { status: res.status, text: await res.text() };
  } catch (err) {
    const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
    return cause?.code ?? String(err);
  }
}

test('an oversized body gets its 413 with a JSON-RPC error, 8 of 8 over fetch and node:http', { timeout: 120_000 }, async (t) => {
  const proxy = await startProxy(['--max-body-bytes', '4096', '--', process.execPath, FIXTURE]);
  t.after(() => proxy.stop());
  const bystander = await startBystander(proxy.url);
  t.after(() => bystander.stop());
  const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x'.repeat(4 * MIB) } } }));
  for (const [client, post] of [['fetch', fetchPost], ['node:http', nodePost]] as const) {
    const answers = await Promise.all(Array.from({ length: 8 }, () => post(`${proxy.url}/mcp`, body)));
    for (const answer of answers) {
      assert.equal(typeof answer, 'object', `${client}: the 413 was lost (${String(answer)})`);
      const { status, text } = answer as { status: number; text: string };
      assert.equal(status, 413, client);
      assert.deepEqual(JSON.parse(text).error, { code: -32600, message: 'request body larger than 4096 bytes' }, client);
    }
  }
  const counts = await bystander.stop();
  assert.ok(counts.ok > 0);
  assert.equal(counts.wrong + counts.failed, 0);
});

/** Writes `request` raw and resolves with everything read until the server closes. */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    socket.setEncoding('utf8').on('data', (chunk: string) => { answer += chunk; });
    socket.on('error', () => {});
    socket.on('close', () => resolve(answer));
    socket.setTimeout(10_000, () => { socket.destroy(); reject(new Error(`no close; got ${answer.slice(0, 200)}`)); });
  });
}

const MODERN_HEADERS = {
  'content-type': 'application/json', accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo',
};
const modernCall = (id: string, args: string): string => `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":${args},` +
  '"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}';

test('deep arguments, ids past 2^53 and CONNECT get clear answers, not 500, altered ids or silence', { timeout: 120_000 }, async (t) => {
  const proxy = await startProxy(['--', process.execPath, FIXTURE]);
  t.after(() => proxy.stop());
  const bystander = await startBystander(proxy.url);
  t.after(() => bystander.stop());

  // Built as text: the test's own JSON.stringify would overflow on it.
  const depth = 100_000;
  const deep = await rawRequest(`${proxy.url}/mcp`, { method: 'POST', headers: MODERN_HEADERS, body: modernCall('1', `{"text":"deep","nest":${'{"a":'.repeat(depth)}0${'}'.repeat(depth)}}`) });
  assert.equal(deep.status, 200, `a 2026-07-28 call nested ${depth} deep is served as the 2025 eras serve it: ${deep.text.slice(0, 200)}`);
  assert.equal((deep.json as { result: { content: Array<{ text: string }> } }).result.content[0]!.text, 'deep');
  assert.doesNotMatch(proxy.logs(), /Maximum call stack/);

  const session = new RawStreamable(proxy.url);
  assert.equal((await session.initialize()).status, 200);
  t.after(() => session.dispose());
  const big = '9007199254740993';
  for (const [era, answer] of [
    ['2025-11-25', await rawRequest(`${proxy.url}/mcp`, {
      method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': session.sessionId! },
      body: `{"jsonrpc":"2.0","id":${big},"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"}}}`,
    })],
    ['2026-07-28', await rawRequest(`${proxy.url}/mcp`, { method: 'POST', headers: MODERN_HEADERS, body: modernCall(big, '{"text":"x"}') })],
  ] as const) {
    assert.equal(answer.status, 400, `${era}: ${answer.text.slice(0, 200)}`);
    const error = (answer.json as { error: { code: number; message: string } }).error;
    assert.equal(error.code, -32600, era);
    assert.match(error.message, /2\^53/, `${era}: the refusal says why`);
  }
  const largest = await session.post({ jsonrpc: '2.0', id: Number.MAX_SAFE_INTEGER, method: 'ping' });
  assert.equal((largest.json as { id: number }).id, Number.MAX_SAFE_INTEGER, 'the largest exact integer still comes back as sent');

  const connectAnswer = await rawExchange(proxy.port, 'CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n');
  assert.match(connectAnswer, /^HTTP\/1\.1 405 /);
  assert.match(connectAnswer, /"code":-32600/);

  const counts = await bystander.stop();
  assert.ok(counts.ok > 0);
  assert.equal(counts.wrong + counts.failed, 0);
});

test('a request the SDK client cancels is answered as it expects: no "Unexpected content type" error', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--', process.execPath, FIXTURE]);
  t.after(() => proxy.stop());
  const answered: Array<{ body: string; contentType: string | null; status: number }> = [];
  const recordingFetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    answered.push({ body: String(init?.body ?? ''), contentType: res.headers.get('content-type'), status: res.status });
    return res;
  };
  const transport = new StreamableHTTPClientTransport(new URL(`${proxy.url}/mcp`), { fetch: recordingFetch });
  const client = new Client({ name: 'canceller', version: '1.0.0' });
  const errors: Error[] = [];
  client.onerror = (err) => errors.push(err);
  await client.connect(transport);
  t.after(() => client.close());
  const abort = new AbortController();
  const call = client.callTool({ name: 'slow', arguments: { ms: 60_000 } }, undefined, { signal: abort.signal });
  abort.abort('the user gave up');
  await assert.rejects(call);
  await eventually(() => answered.some((a) => a.body.includes('"slow"')), 10_000, 'the cancelled call\'s POST answered');
  // One more round trip: whatever the transport does with that answer has happened by its end.
  assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'after' } })), 'after');
  const cancelled = answered.find((a) => a.body.includes('"slow"'))!;
  assert.equal(cancelled.status, 200);
  assert.match(String(cancelled.contentType), /^text\/event-stream/);
  assert.deepEqual(errors.map((e) => e.message), []);
});
