// The console's call recorder: slots that roll over, percentiles from the buckets, the last errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CallWindow } from '../src/observe/call-window.ts';

test('calls land in their time slot; a slot a whole window old is reused empty', () => {
  const window = new CallWindow(1_000, 3);
  window.record('a', 'tools/call', 4, undefined, 10_000);
  window.record('a', 'tools/call', 40, 'boom', 10_500);
  window.record('a', 'tools/call', 400, undefined, 12_100);
  const [series] = window.series(12_900);
  assert.equal(series!.server, 'a');
  assert.deepEqual(series!.points.map((p) => [p.startMs, p.count, p.errors]), [[10_000, 2, 1], [11_000, 0, 0], [12_000, 1, 0]]);
  // 13 s reuses the slot of 10 s: the two old calls are gone, not added to the new one.
  window.record('a', 'tools/call', 1, undefined, 13_000);
  assert.deepEqual(window.series(13_000)[0]!.points.map((p) => [p.startMs, p.count]), [[11_000, 0], [12_000, 1], [13_000, 1]]);
  // Long after, every slot reads empty though nothing was recorded since.
  assert.ok(window.series(60_000)[0]!.points.every((p) => p.count === 0 && p.p50Ms === undefined));
});

test('p50 and p99 are the bounds of the buckets the ranks fall in', () => {
  const window = new CallWindow(10_000, 1);
  for (let i = 0; i < 98; i++) window.record('s', 'm', 3, undefined, 0);
  window.record('s', 'm', 150, undefined, 0);
  window.record('s', 'm', 90_000, undefined, 0);
  const [point] = window.series(0)[0]!.points;
  assert.equal(point!.p50Ms, 5);
  assert.equal(point!.p99Ms, 200);
  window.record('s', 'm', 90_000, undefined, 0);
  assert.equal(window.series(0)[0]!.points[0]!.p99Ms, 60_000, 'past the last bound: reported as the last finite one');
});

test('the last errors are kept newest first, bounded, their messages cut', () => {
  const window = new CallWindow(1_000, 2, 3);
  for (let i = 1; i <= 5; i++) window.record(`s${i}`, 'tools/call', 1, `error ${i}${'x'.repeat(i === 5 ? 500 : 0)}`, i);
  const errors = window.errors();
  assert.deepEqual(errors.map((e) => e.server), ['s5', 's4', 's3']);
  assert.equal(errors[0]!.message.length, 200);
  assert.deepEqual(errors[1], { timeMs: 4, server: 's4', method: 'tools/call', message: 'error 4' });
});

test('a client-chosen method name is stored cut, as a string of its own', () => {
  const window = new CallWindow(1_000, 2, 3);
  window.record('s', `tools/${'x'.repeat(1_000_000)}`, 1, 'failed', 1);
  const [entry] = window.errors();
  assert.equal(entry!.method.length, 100);
  assert.ok(entry!.method.startsWith('tools/xxx'));
});
