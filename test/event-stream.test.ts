// EventStream (src/transports/event-stream.ts): numbered events, bounded replay, Last-Event-ID resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Heartbeat } from '../src/http/sse-writer.ts';
import { EventStream, parseEventId, type StreamLimits } from '../src/downstream/event-stream.ts';
import { FakeResponse, parseSse, type ParsedEvent } from './helpers/fake-response.ts';

const LIMITS: StreamLimits = { maxBufferBytes: 1024 * 1024, replayEvents: 100, replayBytes: 1024 * 1024 };
const NO_PRIME = { prime: false, retryMs: 1000 };
const heartbeat = new Heartbeat(0);

function stream(no = 0, limits: Partial<StreamLimits> = {}): EventStream {
  return new EventStream(no, { ...LIMITS, ...limits }, heartbeat);
}

/** The message events a connection got, as [id, data]. */
function messages(res: FakeResponse): Array<[string | undefined, string | undefined]> {
  return parseSse(res.text).filter((e: ParsedEvent) => e.event === 'message').map((e) => [e.id, e.data]);
}

async function settle(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

test('parseEventId reads <stream>-<seq> and nothing else', () => {
  assert.deepEqual(parseEventId('0-0'), { streamNo: 0, seq: 0 });
  assert.deepEqual(parseEventId('12-345'), { streamNo: 12, seq: 345 });
  for (const bad of ['', '1', '1-', '-1', 'a-1', '1-a', '1-2-3', ' 1-2', '1-2 ', '1234567890-1', '1-1234567890123456', '0x1-2']) {
    assert.equal(parseEventId(bad), undefined, JSON.stringify(bad));
  }
});

test('a live connection gets each event with its <stream>-<seq> id', () => {
  const s = stream(3);
  const res = new FakeResponse();
  s.attach(res.asResponse(), { 'mcp-session-id': 'sid' }, NO_PRIME);
  assert.equal(res.headers['mcp-session-id'], 'sid');
  assert.equal(s.isLive, true);
  s.send('{"a":1}');
  s.send('{"a":2}');
  assert.deepEqual(messages(res), [['3-1', '{"a":1}'], ['3-2', '{"a":2}']]);
});

test('events sent before the first connection are dropped: a standalone stream nobody opened has nothing to resume', () => {
  const s = stream(0);
  s.send('early-1');
  s.send('early-2');
  const res = new FakeResponse();
  s.attach(res.asResponse(), {}, NO_PRIME);
  s.send('live-1');
  assert.deepEqual(messages(res), [['0-1', 'live-1']]);
});

test('events sent while the connection was gone come on the next connection', async () => {
  const s = stream(0);
  const first = new FakeResponse();
  s.attach(first.asResponse(), {}, NO_PRIME);
  first.destroy();
  await settle();
  s.send('missed-1');
  const second = new FakeResponse();
  s.attach(second.asResponse(), {}, NO_PRIME);
  assert.deepEqual(messages(second), [['0-1', 'missed-1']]);
});

test('priming: retry and an id naming the current position come first', async () => {
  const s = stream(2);
  const first = new FakeResponse();
  s.attach(first.asResponse(), {}, NO_PRIME);
  first.destroy();
  await settle();
  s.send('one');
  const res = new FakeResponse();
  s.attach(res.asResponse(), {}, { prime: true, retryMs: 2500 });
  const [retry, prime, ...rest] = parseSse(res.text);
  assert.deepEqual(retry, { retry: 2500 });
  assert.deepEqual(prime, { id: '2-0', data: '' }, 'resuming from the priming id must not skip the undelivered event');
  assert.deepEqual(rest, [{ id: '2-1', event: 'message', data: 'one' }], 'the undelivered event follows the priming event');
});

test('resume after a disconnect: events after Last-Event-ID are replayed, then live events flow', async () => {
  const s = stream(1);
  const first = new FakeResponse();
  s.attach(first.asResponse(), {}, NO_PRIME);
  s.send('e1');
  s.send('e2');
  first.destroy(); // the client dropped after seeing e1 and e2 (say it processed e1 only)
  await settle();
  assert.equal(s.isLive, false);
  s.send('e3');
  s.send('e4');

  const cases: Array<{ afterSeq: number; expected: Array<[string, string]> }> = [
    { afterSeq: 1, expected: [['1-2', 'e2'], ['1-3', 'e3'], ['1-4', 'e4']] },
    { afterSeq: 4, expected: [] },
    { afterSeq: 0, expected: [['1-1', 'e1'], ['1-2', 'e2'], ['1-3', 'e3'], ['1-4', 'e4']] },
    { afterSeq: 99, expected: [] },
  ];
  for (const { afterSeq, expected } of cases) {
    const res = new FakeResponse();
    s.attach(res.asResponse(), {}, { ...NO_PRIME, afterSeq });
    assert.deepEqual(messages(res), expected, `after ${afterSeq}`);
    res.destroy();
    await settle();
  }
  const live = new FakeResponse();
  s.attach(live.asResponse(), {}, { ...NO_PRIME, afterSeq: 4 });
  s.send('e5');
  assert.deepEqual(messages(live), [['1-5', 'e5']]);
});

test('a reconnect without Last-Event-ID gets what was sent while nobody listened', async () => {
  const s = stream(0);
  const first = new FakeResponse();
  s.attach(first.asResponse(), {}, NO_PRIME);
  s.send('seen');
  first.destroy();
  await settle();
  s.send('missed-1');
  s.send('missed-2');
  const second = new FakeResponse();
  s.attach(second.asResponse(), {}, NO_PRIME);
  assert.deepEqual(messages(second), [['0-2', 'missed-1'], ['0-3', 'missed-2']]);
  assert.deepEqual(messages(first), [['0-1', 'seen']]);
});

/** A stream that had a connection which then dropped: what it sends next is kept for replay. */
async function dropped(limits: Partial<StreamLimits>): Promise<EventStream> {
  const s = stream(0, limits);
  const first = new FakeResponse();
  s.attach(first.asResponse(), {}, NO_PRIME);
  first.destroy();
  await settle();
  return s;
}

test('the replay buffer is bounded by events and by bytes, keeping the newest', async () => {
  const byCount = await dropped({ replayEvents: 3 });
  for (let i = 1; i <= 6; i++) byCount.send(`e${i}`);
  const a = new FakeResponse();
  byCount.attach(a.asResponse(), {}, { ...NO_PRIME, afterSeq: 0 });
  assert.deepEqual(messages(a), [['0-4', 'e4'], ['0-5', 'e5'], ['0-6', 'e6']]);

  const byBytes = await dropped({ replayBytes: 25 });
  for (let i = 1; i <= 6; i++) byBytes.send(`event-${i}-xx`); // 12 bytes each: two fit
  const b = new FakeResponse();
  byBytes.attach(b.asResponse(), {}, { ...NO_PRIME, afterSeq: 0 });
  assert.deepEqual(messages(b), [['0-5', 'event-5-xx'], ['0-6', 'event-6-xx']]);

  const oneHuge = await dropped({ replayBytes: 10 });
  oneHuge.send('x'.repeat(100));
  const c = new FakeResponse();
  oneHuge.attach(c.asResponse(), {}, { ...NO_PRIME, afterSeq: 0 });
  assert.equal(messages(c).length, 1, 'the newest event is kept even when it alone is over the byte bound');

  const off = await dropped({ replayEvents: 0 });
  off.send('gone');
  const d = new FakeResponse();
  off.attach(d.asResponse(), {}, { ...NO_PRIME, afterSeq: 0 });
  assert.deepEqual(messages(d), [], 'replay 0: nothing is kept');
});

test('finish ends the live connection; a later resume replays what it missed and ends too', async () => {
  const s = stream(4);
  const res = new FakeResponse();
  s.attach(res.asResponse(), {}, NO_PRIME);
  s.send('reply');
  s.finish();
  assert.equal(res.writableEnded, true);
  assert.equal(s.isFinished, true);
  await settle();
  const again = new FakeResponse();
  s.attach(again.asResponse(), {}, { ...NO_PRIME, afterSeq: 0 });
  assert.deepEqual(messages(again), [['4-1', 'reply']]);
  assert.equal(again.writableEnded, true);
});

test('close ends the connection and drops the replay buffer', async () => {
  const s = stream(0);
  s.send('kept?');
  const res = new FakeResponse();
  s.attach(res.asResponse(), {}, NO_PRIME);
  s.close();
  assert.equal(res.writableEnded, true);
  await settle();
  const again = new FakeResponse();
  s.attach(again.asResponse(), {}, { ...NO_PRIME, afterSeq: 0 });
  assert.deepEqual(messages(again), []);
  assert.equal(again.writableEnded, true);
});

test('a newer connection takes over; the old one closing later does not unhook it', async () => {
  const s = stream(0);
  const old = new FakeResponse();
  s.attach(old.asResponse(), {}, NO_PRIME);
  const current = new FakeResponse();
  s.attach(current.asResponse(), {}, NO_PRIME);
  old.destroy();
  await settle();
  assert.equal(s.isLive, true);
  s.send('to-current');
  assert.deepEqual(messages(current), [['0-1', 'to-current']]);
  assert.deepEqual(messages(old), []);
});

test('a connection cut off for not reading stops being live; its events wait for a resume', async () => {
  const s = stream(0, { maxBufferBytes: 64 });
  const slow = new FakeResponse();
  slow.isStalled = true;
  s.attach(slow.asResponse(), {}, NO_PRIME);
  s.send('x'.repeat(100));
  assert.equal(slow.destroyed, true);
  await settle();
  assert.equal(s.isLive, false);
  s.send('after');
  const resumed = new FakeResponse();
  s.attach(resumed.asResponse(), {}, { ...NO_PRIME, afterSeq: 0 });
  assert.deepEqual(messages(resumed).map(([id]) => id), ['0-1', '0-2']);
});
