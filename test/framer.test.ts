// LineFramer: bytes in any chunking → the same lines; an oversized line is reported and skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { LineFramer } from '../src/upstream/framer.ts';
import { TopLevelScanner } from '../src/upstream/reply-faults.ts';

type Event = ['line', string] | ['oversized', number];

function frame(chunks: Buffer[], maxLineBytes = 1024, end = true): Event[] {
  const events: Event[] = [];
  const framer = new LineFramer(maxLineBytes, {
    line: (text) => events.push(['line', text]),
    oversized: (bytes) => events.push(['oversized', bytes]),
  });
  for (const chunk of chunks) framer.push(chunk);
  if (end) framer.end();
  return events;
}

/** The input as two chunks split at `at`. */
function splitAt(input: Buffer, at: number): Buffer[] {
  return [input.subarray(0, at), input.subarray(at)];
}

function bytewise(input: Buffer): Buffer[] {
  return [...input].map((byte) => Buffer.from([byte]));
}

const CASES: Array<{ name: string; input: string; expected: Event[]; maxLineBytes?: number }> = [
  {
    name: 'JSON lines with multi-byte UTF-8',
    input: '{"jsonrpc":"2.0","id":0,"result":{"text":"héllo"}}\n{"text":"😀 ✓ 日本"}\n',
    expected: [['line', '{"jsonrpc":"2.0","id":0,"result":{"text":"héllo"}}'], ['line', '{"text":"😀 ✓ 日本"}']],
  },
  {
    name: 'CRLF endings lose their CR; a lone CR inside a line stays',
    input: 'one\r\ntwo\r\nth\rree\n',
    expected: [['line', 'one'], ['line', 'two'], ['line', 'th\rree']],
  },
  {
    name: 'empty lines (LF and CRLF) are skipped',
    input: '\n\nfirst\n\r\n\nsecond\n\n',
    expected: [['line', 'first'], ['line', 'second']],
  },
  {
    name: 'a final line without a newline is flushed by end()',
    input: 'whole\npartial é',
    expected: [['line', 'whole'], ['line', 'partial é']],
  },
  {
    name: 'garbage lines are delivered as text (parsing is the owner\'s job)',
    input: 'not json\n\u0000\u0001binary\n{"ok":1}\n',
    expected: [['line', 'not json'], ['line', '\u0000\u0001binary'], ['line', '{"ok":1}']],
  },
  {
    name: 'an oversized line is reported with its size and the next line is still delivered',
    input: `short\n${'x'.repeat(40)}\nnext\n${'y'.repeat(17)}`,
    maxLineBytes: 16,
    expected: [['line', 'short'], ['oversized', 40], ['line', 'next'], ['oversized', 17]],
  },
  {
    name: 'a line of exactly the cap passes (CR counts toward it)',
    input: `${'a'.repeat(16)}\n${'b'.repeat(15)}\r\n${'c'.repeat(16)}\r\nend\n`,
    maxLineBytes: 16,
    expected: [['line', 'a'.repeat(16)], ['line', 'b'.repeat(15)], ['oversized', 17], ['line', 'end']],
  },
  {
    name: 'the cap counts bytes, not characters',
    input: `${'é'.repeat(8)}\n${'é'.repeat(9)}\nok\n`,
    maxLineBytes: 16,
    expected: [['line', 'é'.repeat(8)], ['oversized', 18], ['line', 'ok']],
  },
];

for (const { name, input, expected, maxLineBytes } of CASES) {
  test(`framer: ${name} — whole, split at every byte offset, and one byte at a time`, () => {
    const bytes = Buffer.from(input, 'utf8');
    assert.deepEqual(frame([bytes], maxLineBytes), expected, 'whole');
    for (let at = 0; at <= bytes.length; at++) {
      assert.deepEqual(frame(splitAt(bytes, at), maxLineBytes), expected, `split at ${at}`);
    }
    for (let first = 1; first < bytes.length; first++) {
      for (let second = first + 1; second < bytes.length; second += 3) {
        const chunks = [bytes.subarray(0, first), bytes.subarray(first, second), bytes.subarray(second)];
        assert.deepEqual(frame(chunks, maxLineBytes), expected, `split at ${first} and ${second}`);
      }
    }
    assert.deepEqual(frame(bytewise(bytes), maxLineBytes), expected, 'one byte at a time');
  });
}

test('framer: a multi-byte character split across chunks is decoded whole, never as U+FFFD', () => {
  for (const char of ['é', '✓', '😀']) {
    const bytes = Buffer.from(`${char}\n`, 'utf8');
    for (let at = 1; at < bytes.length - 1; at++) {
      const events = frame(splitAt(bytes, at));
      assert.deepEqual(events, [['line', char]], `${char} split at byte ${at}`);
    }
  }
});

test('framer: without end() an unterminated line is held, not delivered', () => {
  assert.deepEqual(frame([Buffer.from('done\nhalf')], 1024, false), [['line', 'done']]);
});

test('framer: end() with nothing buffered, or twice, delivers nothing more', () => {
  const events: Event[] = [];
  const framer = new LineFramer(64, { line: (t) => events.push(['line', t]), oversized: (b) => events.push(['oversized', b]) });
  framer.end();
  framer.push(Buffer.from('a\n'));
  framer.end();
  framer.end();
  assert.deepEqual(events, [['line', 'a']]);
});

test('framer: end() reports a final oversized line without a newline once', () => {
  const events: Event[] = [];
  const framer = new LineFramer(4, { line: (t) => events.push(['line', t]), oversized: (b) => events.push(['oversized', b]) });
  framer.push(Buffer.from('ok\nabcdefgh'));
  framer.end();
  framer.end();
  assert.deepEqual(events, [['line', 'ok'], ['oversized', 8]]);
});

test('framer: a huge line streamed in many chunks is skipped without being held', () => {
  const events: Event[] = [];
  const framer = new LineFramer(1024, { line: (t) => events.push(['line', t]), oversized: (b) => events.push(['oversized', b]) });
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  for (let i = 0; i < 64; i++) framer.push(chunk);
  framer.push(Buffer.from('\n{"after":true}\n'));
  assert.deepEqual(events, [['oversized', 64 * 64 * 1024], ['line', '{"after":true}']]);
});

/** Bytes the process holds in JS objects and buffers, after a full collection. */
function heldBytes(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

test('framer: a partial line dribbled a byte per chunk costs about what it holds (issue 28.8)', (t) => {
  const lines: string[] = [];
  const framer = new LineFramer(1024 * 1024, { line: (t) => lines.push(t), oversized: () => {} });
  const bytes = 400_000;
  const before = heldBytes();
  // Each chunk its own allocation, as a stream read gives them; the old framer kept every one (~263 bytes each).
  for (let i = 0; i < bytes; i++) framer.push(Buffer.alloc(1, 0x61));
  const grown = heldBytes() - before;
  framer.push(Buffer.from('\n'));
  assert.equal(lines[0]?.length, bytes);
  t.diagnostic(`holding a ${bytes}-byte partial line grew memory by ${grown} bytes`);
  assert.ok(grown < 4 * bytes, `holding a ${bytes}-byte partial line grew memory by ${grown} bytes`);
});

test("top-level scanner: a reply's id is read wherever it sits, never from a nested object or a string", () => {
  const cases: Array<[string, string | number | undefined]> = [
    ['{"result":{"id":9,"text":"a\\"id\\":8"},"jsonrpc":"2.0","id":7}', 7],
    ['{"jsonrpc":"2.0","id":"abc","result":{"content":[{"id":1}]}}', 'abc'],
    ['\ufeff{"jsonrpc":"2.0","id":0,"error":{"code":1,"message":"m"}}', 0],
    ['{"jsonrpc":"2.0","id":3,"method":"sampling/createMessage","params":{}}', undefined],
    ['{"jsonrpc":"2.0","result":{"id":5}}', undefined],
    ['{"jsonrpc":"2.0","id":{"x":1},"result":1}', undefined],
    ['[{"jsonrpc":"2.0","id":1,"result":1}]', undefined],
  ];
  for (const [text, expected] of cases) {
    const input = Buffer.from(text);
    for (let at = 0; at <= input.length; at++) {
      const scanner = new TopLevelScanner();
      scanner.push(input.subarray(0, at));
      scanner.push(input.subarray(at));
      assert.equal(scanner.responseId(), expected, `${text} split at ${at}`);
    }
  }
});
