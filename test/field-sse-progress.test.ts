// The field matrix's clients (test/helpers/field-clients.ts) judge the proxy, not their SDK's races:
// over legacy SSE, SDK 1.32 drops a progress notification that reaches it in the same network chunk
// as its call's response, though the proxy sent it first. The SDK 1.32 SSE field client must see
// every step of every call, by the time the call resolves.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectEra } from './helpers/field-clients.ts';
import { EVERYTHING, startProxy } from './helpers/proxy.ts';

const CALLS = 20;
const STEPS = 2;

test('the SDK 1.32 SSE field client sees every progress step before its call resolves, call after call', { timeout: 120_000 }, async (t) => {
  const proxy = await startProxy(['--', 'node', EVERYTHING]);
  t.after(() => proxy.stop());
  const client = await connectEra('sdk1-sse', proxy.url, {}, 15_000);
  t.after(() => client.close());
  const short: string[] = [];
  for (let i = 0; i < CALLS; i++) {
    const seen: number[] = [];
    await client.call('trigger-long-running-operation', { duration: 0.2, steps: STEPS }, { timeoutMs: 15_000, onprogress: (p) => seen.push(p) });
    // The proxy sends every step before the response: by now the client has seen them all, in order.
    if (seen.join() !== '1,2') short.push(`call ${i}: ${JSON.stringify(seen)}`);
  }
  assert.deepEqual(short, [], `${short.length} of ${CALLS} calls lost progress:\n${short.join('\n')}`);
});
