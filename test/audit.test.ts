/** The audit log (issue 13): lines in order while the sink keeps up; a stalled sink drops lines and counts them, never blocks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { AuditLog, type AuditEntry } from '../src/observe/audit.ts';
import { Metrics } from '../src/observe/metrics.ts';

const entry = (n: number): AuditEntry => ({
  time: '2026-01-01T00:00:00.000Z', principal: 'key:alice', auth: 'key', server: 'default', session: 's', transport: 'streamable',
  era: '2025-11-25', method: 'tools/call', name: 'echo', id: n, outcome: 'result', ms: 1, bytesIn: 10, bytesOut: 20, client: undefined,
});

test('lines reach a sink that keeps up, one JSON object per line, in order', async () => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done(); } });
  const audit = new AuditLog(sink, assert.fail);
  for (let n = 0; n < 1000; n++) audit.record(entry(n));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(lines.length, 1000);
  assert.deepEqual(lines.map((line) => (JSON.parse(line) as AuditEntry).id), [...Array(1000).keys()]);
  assert.equal(audit.dropped, 0);
});

test('a stalled sink: record() returns at once, lines past the bound are dropped and counted in /metrics', () => {
  // A sink that takes one write and never finishes it: everything after waits for a 'drain' that never comes.
  const sink = new Writable({ highWaterMark: 1024, write() {} });
  const audit = new AuditLog(sink, assert.fail);
  const metrics = new Metrics();
  metrics.auditDropped = () => audit.dropped;
  // record() is synchronous and never awaits the sink: the loop finishing is the proof it does not block.
  for (let n = 0; n < 40_000; n++) audit.record(entry(n));
  assert.ok(audit.dropped > 0, 'lines past the queue bound were dropped');
  assert.ok(audit.written + audit.dropped <= 40_000);
  assert.match(metrics.render([]), new RegExp(`mcpproxy_audit_dropped_total ${audit.dropped}`));
});
