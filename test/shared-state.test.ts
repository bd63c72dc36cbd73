// The shared child's subscriptions and log level, kept for many sessions (src/shared-*.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedSubscriptions } from '../src/routing/shared-subscriptions.ts';
import { SharedLogLevel } from '../src/routing/shared-log-level.ts';

test('subscriptions: the child is told on the first holder and the last leaver only', () => {
  const subs = new SharedSubscriptions();
  assert.equal(subs.subscribe('a', 'u'), true, 'first holder');
  assert.equal(subs.subscribe('a', 'u'), false, 'same session again');
  assert.equal(subs.subscribe('b', 'u'), false, 'second holder');
  assert.equal(subs.holds('b', 'u'), true);
  assert.equal(subs.unsubscribe('a', 'u'), false, 'b still holds it');
  assert.equal(subs.unsubscribe('a', 'u'), false, 'a no longer holds it');
  assert.deepEqual([...subs.uris()], ['u']);
  subs.subscribe('b', 'v');
  assert.deepEqual(subs.dropSession('b').sort(), ['u', 'v'], 'b was the last holder of both');
  assert.deepEqual([...subs.uris()], []);
  assert.deepEqual(subs.dropSession('nobody'), []);
});

test('log level: the child gets the most verbose level asked for; each session is filtered to its own', () => {
  const levels = new SharedLogLevel();
  assert.equal(levels.set('a', 'warning'), 'warning');
  assert.equal(levels.set('b', 'error'), undefined, 'warning already covers error');
  assert.equal(levels.set('c', 'debug'), 'debug');
  assert.equal(levels.childLevel, 'debug');
  assert.equal(levels.allows('a', 'info'), false);
  assert.equal(levels.allows('a', 'error'), true);
  assert.equal(levels.allows('c', 'debug'), true);
  assert.equal(levels.allows('none-set', 'debug'), true, 'a session that chose nothing gets everything');
  assert.equal(levels.allows('a', 'not-a-level'), true, 'an unknown level is not filtered');
  levels.dropSession('a');
  assert.equal(levels.allows('a', 'debug'), true);
});
