// Logger (src/log.ts): one line per event, levels, and secrets masked in text and JSON output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';
import { LogBudget, Logger, truncate, type LogFormat, type LogLevel } from '../src/observe/log.ts';
import { QueuedSink } from '../src/observe/log-sink.ts';

function logger(level: LogLevel = 'debug', format: LogFormat = 'text') {
  const lines: string[] = [];
  const log = new Logger(level, format, { write: (line) => lines.push(line) });
  return { log, lines };
}

const TEXT_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn |info |debug) /;

test('text format: time, level, message, then key=value fields; one line per event', () => {
  const { log, lines } = logger();
  log.info('child started', { pid: 42, command: 'npx', args: 'a b', ok: true, none: null, skipped: undefined, eq: 'x=y', quote: 'say "hi"' });
  assert.equal(lines.length, 1);
  const line = lines[0]!;
  assert.match(line, TEXT_LINE);
  assert.ok(line.endsWith('\n'));
  assert.equal(line.split('\n').length, 2, 'exactly one line');
  assert.equal(
    line.replace(TEXT_LINE, ''),
    'child started pid=42 command=npx args="a b" ok=true none=null eq="x=y" quote="say \\"hi\\""\n',
  );
  log.warn('multi', { body: 'line one\nline two' });
  assert.equal(lines[1]!.split('\n').length, 2, 'a newline in a value is escaped');
});

test('json format: one JSON object per line with every field', () => {
  const { log, lines } = logger('debug', 'json');
  log.error('failed', { session: 'abc', code: -32000, skipped: undefined });
  const record = JSON.parse(lines[0]!);
  assert.equal(typeof record.time, 'string');
  assert.deepEqual({ ...record, time: 'T' }, { time: 'T', level: 'error', msg: 'failed', session: 'abc', code: -32000 });
});

test('levels: lower-priority lines are not written', () => {
  const levels: LogLevel[] = ['error', 'warn', 'info', 'debug'];
  for (const [rank, level] of levels.entries()) {
    const { log, lines } = logger(level);
    log.error('e');
    log.warn('w');
    log.info('i');
    log.debug('d');
    assert.equal(lines.length, rank + 1, level);
    for (const [other, candidate] of levels.entries()) assert.equal(log.isEnabled(candidate), other <= rank, `${level} enables ${candidate}`);
  }
});

for (const format of ['text', 'json'] as const) {
  test(`${format}: secrets are masked in the message, in fields and in base fields`, () => {
    const { log, lines } = logger('debug', format);
    log.addSecret('tok-SECRET-1');
    const child = log.child({ url: '/sse?auth_key=tok-SECRET-1' });
    child.info('auth failed for tok-SECRET-1', { header: 'Bearer tok-SECRET-1', twice: 'tok-SECRET-1/tok-SECRET-1', n: 3 });
    assert.equal(lines.length, 1);
    assert.doesNotMatch(lines[0]!, /SECRET/);
    assert.equal(lines[0]!.match(/\[redacted\]/g)?.length, 5);
    if (format === 'json') {
      const record = JSON.parse(lines[0]!);
      assert.equal(record.header, 'Bearer [redacted]');
      assert.equal(record.url, '/sse?auth_key=[redacted]');
      assert.equal(record.n, 3);
    }
  });
}

test('secrets are shared between a logger and its children, both ways', () => {
  const { log, lines } = logger();
  const child = log.child({ session: 's1' });
  child.addSecret('from-child');
  log.addSecret('from-parent');
  log.info('from-child');
  child.info('from-parent', { session2: 'from-child' });
  assert.ok(lines.every((line) => !line.includes('from-')), lines.join(''));
  assert.match(lines[1]!, /session=s1/);
});

test('removeSecret is ref-counted: a value stays masked until every holder removed it', () => {
  const { log, lines } = logger();
  log.addSecret('shared-token');
  log.addSecret('shared-token'); // two sessions with the same token
  log.removeSecret('shared-token');
  log.info('shared-token');
  assert.match(lines.at(-1)!, /\[redacted\]/, 'still masked for the remaining holder');
  log.removeSecret('shared-token');
  log.info('shared-token');
  assert.match(lines.at(-1)!, /shared-token/, 'unmasked after the last holder left');
  log.removeSecret('shared-token'); // more removals than adds: harmless
  log.removeSecret('never-added');
  log.addSecret('shared-token');
  log.info('shared-token');
  assert.match(lines.at(-1)!, /\[redacted\]/, 'a fresh add masks again, not cancelled by the extra remove');
});

test('values shorter than 4 characters are not registered (they would mask ordinary text)', () => {
  const { log, lines } = logger();
  log.addSecret('abc');
  log.addSecret('');
  log.info('abc info', { level: 'abc' });
  assert.match(lines[0]!, /abc info level=abc/);
});

test('a secret that contains another is masked whole', () => {
  for (const order of [['abcd', 'abcdefgh'], ['abcdefgh', 'abcd']]) {
    const { log, lines } = logger();
    for (const secret of order) log.addSecret(secret);
    log.info('key abcdefgh end');
    assert.match(lines[0]!, / key \[redacted\] end\n$/, `registered ${order.join(' then ')}`);
  }
});

test('truncate shortens long bodies and says how long they were', () => {
  assert.equal(truncate('short'), 'short');
  assert.equal(truncate('x'.repeat(500)), 'x'.repeat(500));
  assert.equal(truncate('x'.repeat(501)), `${'x'.repeat(500)}…(501 chars)`);
  assert.equal(truncate('abcdef', 3), 'abc…(6 chars)');
});

/** A stderr stand-in: takes writes, answers `false` (full) until drained by hand, or fails. */
class FakeStream extends EventEmitter {
  written: string[] = [];
  isFull = true;
  write(text: string): boolean {
    this.written.push(text);
    return !this.isFull;
  }
}

test('queued sink: a stream that does not drain costs dropped lines, counted and said once it drains; never unbounded', () => {
  const stream = new FakeStream();
  const sink = new QueuedSink(stream as unknown as Writable, 'text', 10_000);
  const line = `${'x'.repeat(99)}\n`;
  for (let i = 0; i < 100_000; i++) sink.write(line); // 10 MB offered
  assert.equal(stream.written.length, 1, 'one write, then the stream said it is full');
  stream.isFull = false;
  stream.emit('drain');
  assert.equal(stream.written.length, 2, 'what waited goes out as one write');
  const flushed = stream.written[1]!;
  assert.ok(flushed.length <= 10_000 + 200, `flushed ${flushed.length} bytes`);
  const dropped = /warn {2}log lines dropped: stderr did not keep up dropped=(\d+)\n/.exec(flushed);
  assert.ok(dropped !== null, flushed.slice(0, 200));
  const queued = flushed.split('\n').length - 2; // less the notice and the empty string after the last newline
  assert.equal(1 + queued + Number(dropped[1]), 100_000, 'every line offered is written or counted');
});

test('queued sink: a failing stream (EPIPE, EINVAL) stops the log, never the process', () => {
  const stream = new FakeStream();
  stream.isFull = false;
  const sink = new QueuedSink(stream as unknown as Writable, 'json');
  sink.write('a\n');
  stream.emit('error', Object.assign(new Error('write EINVAL'), { code: 'EINVAL' })); // no listener would make this throw
  sink.write('b\n');
  assert.deepEqual(stream.written, ['a\n']);
  const throwing = { on: () => throwing, write: () => { throw new Error('destroyed'); } };
  const broken = new QueuedSink(throwing as unknown as Writable, 'text');
  broken.write('c\n');
  broken.write('d\n');
});

test('log budget: a flood logs its first lines, then one line that counts the rest', () => {
  const { log, lines } = logger();
  const budget = new LogBudget(log, 'warn', 'child wrote a line that is not JSON, skipped', { perWindow: 3, windowMs: 60_000 });
  for (let i = 0; i < 100_000; i++) budget.hit({ line: `garbage ${i}` });
  budget.flush();
  budget.flush();
  assert.equal(lines.length, 4);
  assert.match(lines[2]!, /garbage 2/);
  assert.match(lines[3]!, /warn {2}child wrote a line that is not JSON, skipped \(more of the same not logged\) skipped=99997\n$/);
});
