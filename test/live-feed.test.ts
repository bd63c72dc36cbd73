// The status stream: one snapshot per tick for every viewer, sent at once on a change, and no timer left once nobody watches.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { LiveFeed } from '../src/front/console/live-feed.ts';
import { FakeResponse } from './helpers/fake-response.ts';

const TICK_MS = 30;
const statusEvents = (res: FakeResponse): number => res.text.split('event: status\n').length - 1;

test('every viewer gets the snapshot built once per tick; a change is sent at once; the timer stops with the last viewer', async () => {
  let built = 0;
  const feed = new LiveFeed(() => ({ n: ++built }), TICK_MS);
  feed.nudge(); // nobody watches: nothing is built
  assert.equal(built, 0);
  const [a, b] = [new FakeResponse(), new FakeResponse()];
  feed.add(a.asResponse());
  feed.add(b.asResponse());
  assert.equal(built, 2, 'each viewer starts with a snapshot of its own');
  assert.match(a.text, /^retry: \d+\n\nevent: status\ndata: \{"n":1\}\n\n$/);

  // However many ticks a loaded machine lets pass, each built one snapshot and sent it to both viewers.
  while (built < 4) await sleep(TICK_MS);
  const ticks = built - 2;
  assert.deepEqual([statusEvents(a), statusEvents(b)], [1 + ticks, 1 + ticks], `${ticks} ticks, one snapshot each for both viewers`);

  a.destroy();
  b.end();
  await sleep(0);
  const after = built;
  await sleep(TICK_MS * 3);
  assert.equal(built, after, 'no viewer, no tick');
});

test('changes within one turn of the loop send one snapshot, at once', async () => {
  let built = 0;
  const feed = new LiveFeed(() => ({ n: ++built }), 60_000); // no tick comes between
  const viewer = new FakeResponse();
  feed.add(viewer.asResponse());
  feed.nudge();
  feed.nudge();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(built, 2, 'the first snapshot, then one for both changes');
  assert.equal(statusEvents(viewer), 2);
  viewer.end();
});

test('a viewer that does not read is cut off; the others go on', async () => {
  const feed = new LiveFeed(() => ({ blob: 'x'.repeat(60_000) }), TICK_MS);
  const [slow, fast] = [new FakeResponse(), new FakeResponse()];
  slow.isStalled = true;
  feed.add(slow.asResponse());
  feed.add(fast.asResponse());
  for (let i = 0; i < 40 && !slow.destroyed; i++) await sleep(TICK_MS);
  assert.ok(slow.destroyed, 'cut off past 1 MiB unsent');
  assert.ok(!fast.destroyed);
  fast.destroy();
});
