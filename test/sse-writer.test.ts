// SseWriter and Heartbeat (src/http/sse-writer.ts): frames, cut-off of a client that does not read, close.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { Heartbeat, SSE_HEADERS, SseWriter } from '../src/http/sse-writer.ts';
import { FakeResponse, parseSse } from './helpers/fake-response.ts';

test('the response head is SSE with the extra headers, sent at once', () => {
  const res = new FakeResponse();
  new SseWriter(res.asResponse(), 1024, { 'mcp-session-id': 'abc' });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.headers, { ...SSE_HEADERS, 'mcp-session-id': 'abc' });
  assert.equal(res.headers['content-type'], 'text/event-stream');
  assert.equal(res.headers['x-accel-buffering'], 'no');

  const already = new FakeResponse();
  already.writeHead(299, { a: 'b' });
  new SseWriter(already.asResponse(), 1024);
  assert.equal(already.statusCode, 299, 'a head already sent is left alone');
});

test('frames: events with and without ids, multi-line data, comments, retry, priming', () => {
  const res = new FakeResponse();
  const writer = new SseWriter(res.asResponse(), 1024 * 1024);
  const cases: Array<{ write: () => boolean; text: string }> = [
    { write: () => writer.send('{"a":1}'), text: 'event: message\ndata: {"a":1}\n\n' },
    { write: () => writer.send('{"a":2}', 'message', '0-1'), text: 'id: 0-1\nevent: message\ndata: {"a":2}\n\n' },
    { write: () => writer.send('/messages?session_id=x', 'endpoint'), text: 'event: endpoint\ndata: /messages?session_id=x\n\n' },
    { write: () => writer.send('one\ntwo\r\nthree'), text: 'event: message\ndata: one\ndata: two\ndata: three\n\n' },
    { write: () => writer.send(''), text: 'event: message\ndata: \n\n' },
    { write: () => writer.comment('ping'), text: ': ping\n\n' },
    { write: () => writer.retry(1000), text: 'retry: 1000\n\n' },
    { write: () => writer.retry(500, '3-0'), text: 'id: 3-0\nretry: 500\n\n' },
    { write: () => writer.prime('3-0'), text: 'id: 3-0\ndata: \n\n' },
  ];
  for (const { write, text } of cases) {
    const before = res.written.length;
    assert.equal(write(), true);
    assert.equal(res.written.slice(before).join(''), text);
  }
  assert.deepEqual(parseSse(res.text)[3], { event: 'message', data: 'one\ntwo\nthree' });
});

test('a large event is written corked in pieces that add up to the same frame', async () => {
  const res = new FakeResponse();
  const writer = new SseWriter(res.asResponse(), 64 * 1024 * 1024);
  const data = JSON.stringify({ text: 'x'.repeat(200_000) });
  assert.equal(writer.send(data, 'message', '0-9'), true);
  assert.equal(res.corks, 1, 'corked while the pieces are written');
  assert.equal(res.text, `id: 0-9\nevent: message\ndata: ${data}\n\n`);
  await new Promise((resolve) => process.nextTick(resolve));
  assert.equal(res.corks, 0, 'uncorked on the next tick');
});

test('a client that does not read is cut off once its backlog passes the bound, and close listeners run once', async () => {
  const res = new FakeResponse();
  res.isStalled = true;
  const writer = new SseWriter(res.asResponse(), 100);
  let closes = 0;
  writer.onClose(() => closes++);
  assert.equal(writer.send('x'.repeat(40)), true, '60 bytes queued: under the bound');
  assert.equal(writer.send('x'.repeat(40)), false, 'over the bound: cut off');
  assert.equal(res.destroyed, true);
  assert.equal(writer.isOpen, false);
  assert.equal(writer.send('more'), false);
  assert.equal(writer.comment('ping'), false);
  assert.equal(writer.prime('0-0'), false);
  assert.equal(writer.retry(1), false);
  writer.end(); // nothing to end: no throw
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(closes, 1);
  let late = 0;
  writer.onClose(() => late++);
  assert.equal(late, 1, 'a listener added after the close runs at once');
});

test('end() ends the response once; later sends are refused', async () => {
  const res = new FakeResponse();
  const writer = new SseWriter(res.asResponse(), 1024);
  let closes = 0;
  writer.onClose(() => closes++);
  writer.send('last');
  writer.end();
  writer.end();
  assert.equal(res.writableEnded, true);
  assert.equal(writer.send('after'), false);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(closes, 1);
  assert.equal(parseSse(res.text).length, 1);
});

test('a response whose client already left reports closed without a close event', async () => {
  const res = new FakeResponse();
  res.socket = null;
  const writer = new SseWriter(res.asResponse(), 1024);
  const closed = new Promise<void>((resolve) => writer.onClose(resolve));
  await closed;
});

test('Heartbeat writes a comment to every open writer at the interval and forgets closed ones', async (t) => {
  mock.timers.enable({ apis: ['setInterval'] });
  t.after(() => mock.timers.reset());
  const heartbeat = new Heartbeat(30_000);
  t.after(() => heartbeat.stop());
  const [a, b] = [new FakeResponse(), new FakeResponse()];
  const writers = [new SseWriter(a.asResponse(), 1024), new SseWriter(b.asResponse(), 1024)];
  for (const writer of writers) heartbeat.add(writer);
  assert.equal(heartbeat.size, 2);
  mock.timers.tick(30_000);
  assert.deepEqual([a.text, b.text], [': ping\n\n', ': ping\n\n']);
  writers[1]!.end();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(heartbeat.size, 1);
  mock.timers.tick(30_000);
  assert.deepEqual([a.text, b.text], [': ping\n\n: ping\n\n', ': ping\n\n']);

  const off = new Heartbeat(0);
  off.add(new SseWriter(new FakeResponse().asResponse(), 1024));
  assert.equal(off.size, 0, 'interval 0: heartbeats off');
  off.stop();
});

test('over a real connection: frames arrive in order and a client leaving closes the writer', { timeout: 10_000 }, async (t) => {
  let writer: SseWriter | undefined;
  const opened = deferred();
  const server = createServer((_req, res: ServerResponse) => {
    writer = new SseWriter(res, 1024 * 1024);
    writer.send('{"n":1}', 'message', '0-1');
    writer.send('multi\nline', 'message', '0-2');
    writer.comment('ping');
    opened.resolve();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => { server.closeAllConnections(); server.close(); });
  const { port } = server.address() as { port: number };

  const req = request({ host: '127.0.0.1', port, path: '/' });
  req.end();
  const [res] = await once(req, 'response') as [import('node:http').IncomingMessage];
  assert.equal(res.headers['content-type'], 'text/event-stream');
  let text = '';
  const expected = 'id: 0-1\nevent: message\ndata: {"n":1}\n\nid: 0-2\nevent: message\ndata: multi\ndata: line\n\n: ping\n\n';
  const received = deferred();
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    text += chunk;
    if (text.length >= expected.length) received.resolve();
  });
  await opened.promise;
  await received.promise;
  assert.equal(text, expected);

  const closed = new Promise<void>((resolve) => writer!.onClose(resolve));
  req.destroy();
  await closed;
  assert.equal(writer!.isOpen, false);
  assert.equal(writer!.send('gone'), false);
});

/** Promise.withResolvers is Node 22+; CI runs Node 20. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}
