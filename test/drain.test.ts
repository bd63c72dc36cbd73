/**
 * The drain load balancers see, on the built binary: after SIGTERM /readyz says 503 at once while calls
 * are still served (with `Connection: close`) for --drain-delay; then the listener closes, calls in flight
 * get --shutdown-timeout, and what is still open is answered with a JSON-RPC error; SSE streams end.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually, FIXTURE, startProxy, withDeadline, type RunningProxy } from './helpers/proxy.ts';
import { allGone, killAll, rawRequest, RawStreamable, rpcErrorOf } from './helpers/ops.ts';
import { openLegacySession, openSse } from './helpers/raw-sse.ts';

const CHILD = ['--shared', '--', process.execPath, FIXTURE];

function waitForExit(proxy: RunningProxy, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return withDeadline(new Promise((resolve) => {
    if (proxy.proc.exitCode !== null || proxy.proc.signalCode !== null) resolve({ code: proxy.proc.exitCode, signal: proxy.proc.signalCode });
    else proxy.proc.once('exit', (code, signal) => resolve({ code, signal }));
  }), ms, 'the proxy exits');
}

async function pendingCalls(proxy: RunningProxy): Promise<number> {
  const { text } = await rawRequest(`${proxy.url}/metrics`);
  return Number(/^mcpproxy_pending_requests\{server="default"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

test('SIGTERM: /readyz is 503 at once, calls are still served with Connection: close, a second SIGTERM ends the drain', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--drain-delay', '60', '--shutdown-timeout', '2', ...CHILD]);
  t.after(() => proxy.stop());
  const session = new RawStreamable(proxy.url);
  assert.equal((await session.initialize()).status, 200);
  const { pid } = await session.callJson<{ pid: number }>('pid');
  t.after(() => killAll([pid]));
  const before = await rawRequest(`${proxy.url}/readyz`);
  assert.equal(before.status, 200);
  assert.notEqual(before.headers.connection, 'close', 'keep-alive while serving');

  proxy.proc.kill('SIGTERM');
  await proxy.waitForLog(/draining .*drainDelay=60/);
  const ready = await rawRequest(`${proxy.url}/readyz`);
  assert.equal(ready.status, 503);
  assert.equal((ready.json as { status: string }).status, 'draining');
  const { res, message } = await session.call('echo', { text: 'still served' });
  assert.equal(res.status, 200);
  assert.match(JSON.stringify(message), /still served/, 'the call is answered during the drain');
  assert.equal(res.headers.connection, 'close', 'the client reconnects, through the balancer, elsewhere');
  const streamed = await session.post({ jsonrpc: '2.0', id: 99, method: 'tools/call', params: { name: 'slow', arguments: { ms: 200, text: 'streamed' }, _meta: { progressToken: 'p' } } });
  assert.match(String(streamed.headers['content-type']), /^text\/event-stream/, 'an answer streamed as SSE');
  assert.match(streamed.text, /streamed/);
  assert.equal(streamed.headers.connection, 'close', 'SSE answers close their connection too');

  // Far below the 60 s drain delay: the second signal skips what is left of it, the shutdown is clean.
  proxy.proc.kill('SIGTERM');
  assert.deepEqual(await waitForExit(proxy, 15_000), { code: 0, signal: null });
  assert.match(proxy.logs(), /drain delay cut short/);
  await allGone([pid], 10_000, 'the child after shutdown');
});

test('after the drain: a slow call finishes within --shutdown-timeout, one still open gets a JSON-RPC error, SSE and GET streams end cleanly', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--drain-delay', '2', '--shutdown-timeout', '3', ...CHILD]);
  t.after(() => proxy.stop());
  const session = new RawStreamable(proxy.url);
  assert.equal((await session.initialize()).status, 200);
  const { pid } = await session.callJson<{ pid: number }>('pid');
  t.after(() => killAll([pid]));
  const { stream } = await openLegacySession(proxy.url);
  const standalone = await openSse(`${proxy.url}/mcp`, { 'mcp-session-id': session.sessionId! });
  assert.equal(standalone.response.status, 200, 'the standalone GET stream is open');
  // 3.5 s: longer than the shutdown timeout alone (the old behaviour), shorter than drain + shutdown.
  const finishing = session.call('slow', { ms: 3500, text: 'finished in time' });
  const stuck = session.call('slow', { ms: 60_000, text: 'never' });
  await eventually(async () => (await pendingCalls(proxy)) === 2, 10_000, 'both calls in flight');

  const signalledMs = Date.now();
  proxy.proc.kill('SIGTERM');
  const done = await withDeadline(finishing, 15_000, 'the slow call');
  assert.equal(done.res.status, 200);
  assert.match(JSON.stringify(done.message), /finished in time/);
  const cut = await withDeadline(stuck, 15_000, 'the call still open at the end');
  assert.deepEqual(rpcErrorOf(cut.message), { code: -32000, message: 'proxy shutting down' }, `an answer, not a reset: ${cut.res.text}`);
  await withDeadline(stream.rest(15_000), 15_000, 'the SSE stream ends');
  await withDeadline(standalone.rest(15_000), 15_000, 'the standalone GET stream ends');
  assert.equal((await waitForExit(proxy, 15_000)).code, 0);
  // Drain 2 s + shutdown 3 s, and the child's stop (it exits on stdin EOF): well within Cloud Run's window.
  assert.ok(Date.now() - signalledMs < 9_000, `exited ${Date.now() - signalledMs} ms after SIGTERM`);
  await allGone([pid], 10_000, 'the child after shutdown');
  const phases = ['draining', 'shutting down', 'ending calls and streams', 'stopped'].map((phase) => proxy.logs().indexOf(phase));
  assert.ok(phases.every((at, i) => at >= 0 && (i === 0 || at > phases[i - 1]!)), `one line per phase, in order:\n${proxy.logs()}`);
});
