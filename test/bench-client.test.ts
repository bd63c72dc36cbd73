// The benchmark's own SSE parser: events split at every byte offset come out the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SseParser, type SseEvent } from '../bench/sse-parser.ts';

const STREAM = Buffer.from(
  ': keep-alive\r\n' +
  'event: endpoint\r\ndata: /messages?session_id=abc\r\n\r\n' +
  'event: message\ndata: {"text":"héllo ✓"}\n\n' +
  'data: line one\rdata: line two\r\r' +
  'id: 7\nevent: message\ndata:{"x":1}\n\n',
);
const EXPECTED: SseEvent[] = [
  { event: 'endpoint', data: '/messages?session_id=abc', id: undefined },
  { event: 'message', data: '{"text":"héllo ✓"}', id: undefined },
  { event: 'message', data: 'line one\nline two', id: undefined },
  { event: 'message', data: '{"x":1}', id: '7' },
];

function parse(chunks: Buffer[]): SseEvent[] {
  const events: SseEvent[] = [];
  const parser = new SseParser((e) => events.push(e));
  for (const c of chunks) parser.feed(c);
  return events;
}

test('SSE events survive a split at every byte offset', () => {
  assert.deepEqual(parse([STREAM]), EXPECTED);
  for (let i = 0; i <= STREAM.length; i++) {
    assert.deepEqual(parse([STREAM.subarray(0, i), STREAM.subarray(i)]), EXPECTED, `split at ${i}`);
  }
});

test('SSE events survive one byte at a time', () => {
  assert.deepEqual(parse([...STREAM].map((b) => Buffer.from([b]))), EXPECTED);
});

test('an SSE line over the cap is an error, not unbounded memory', () => {
  const parser = new SseParser(() => {}, 16);
  assert.throws(() => parser.feed(Buffer.from('data: ' + 'x'.repeat(32))), { code: 'BENCH_SSE_LINE_TOO_LONG' });
});
