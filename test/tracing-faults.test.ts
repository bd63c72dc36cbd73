// Tracing under a failing collector, and sampling: calls are never slowed, failed or made to grow memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connectClient, FIXTURE, startProxy, textOf, withDeadline, type RunningProxy } from './helpers/proxy.ts';
import { OtlpReceiver, type ReceiverMode } from './helpers/otlp-receiver.ts';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';

const CLIENT_TRACE = '0af7651916cd43dd8448eb211c80319c';

function rssBytes(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

/** `count` echo calls, `parallel` at a time; every answer must be the text sent. */
async function calls(client: Client, count: number, parallel = 8): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < count) {
      const text = `call-${next++}`;
      assert.equal(textOf(await withDeadline(client.callTool({ name: 'echo', arguments: { text } }), 30_000, text)), text);
    }
  }));
}

async function metric(proxy: RunningProxy, name: string): Promise<number> {
  const text = await (await fetch(`${proxy.url}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
}

async function tracedProxy(t: { after: (fn: () => unknown) => void }, mode: ReceiverMode, env: NodeJS.ProcessEnv, fixtureArgs: string[] = []): Promise<{ proxy: RunningProxy; receiver: OtlpReceiver; client: Client }> {
  const receiver = new OtlpReceiver(mode);
  const collector = await receiver.listen();
  t.after(() => receiver.close());
  const proxy = await startProxy(['--otlp-endpoint', collector, '--', process.execPath, FIXTURE, ...fixtureArgs], { env: { OTEL_BSP_SCHEDULE_DELAY: '20', ...env } });
  t.after(() => proxy.stop());
  const { client } = await connectClient(proxy.url, 'streamable');
  t.after(() => client.close());
  return { proxy, receiver, client };
}

for (const mode of ['stall', 'fail'] as const) {
  test(`a collector that ${mode === 'stall' ? 'never answers' : 'answers 500'}: every call right, spans dropped and counted, one log line, no memory growth`, { timeout: 300_000 }, async (t) => {
    const { proxy, receiver, client } = await tracedProxy(t, mode, { OTEL_EXPORTER_OTLP_TIMEOUT: '500' });
    await calls(client, 2000); // warm: the queue fills, the JIT settles
    const before = rssBytes(proxy.proc.pid!);
    await calls(client, 20_000);
    const after = rssBytes(proxy.proc.pid!);
    t.diagnostic(`RSS ${(before / 2 ** 20).toFixed(1)} MiB after 2,000 calls, ${(after / 2 ** 20).toFixed(1)} MiB after 20,000 more; collector requests ${receiver.requests}`);
    assert.ok(receiver.requests > 0, 'the proxy tried to export');
    assert.equal(await metric(proxy, 'mcpproxy_trace_spans_exported_total'), 0);
    assert.ok(await metric(proxy, 'mcpproxy_trace_spans_dropped_total') > 20_000, 'the spans of the calls are dropped and counted');
    assert.equal(proxy.logs().match(/trace export failing/g)?.length, 1, 'one log line, not one per batch');
    // A bounded queue: 20,000 calls later the proxy holds what it held after the first 2,000 (GC noise aside).
    assert.ok(after - before < 40 * 1024 * 1024, `RSS grew ${Math.round((after - before) / 1024 / 1024)} MiB over 20,000 calls`);
  });
}

test('sampling ratio 0: nothing exported, the child still gets the trace id (not sampled); ratio 1: every call exported', { timeout: 120_000 }, async (t) => {
  const traceparent = `00-${CLIENT_TRACE}-b7ad6b7169203331-01`;
  const echoMeta = async (client: Client): Promise<string> =>
    JSON.parse(textOf(await withDeadline(client.callTool({ name: 'echo', arguments: {}, _meta: { traceparent } }), 30_000, 'echo'))).traceparent as string;

  const none = await tracedProxy(t, 'ok', { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' }, ['--echo-meta']);
  for (let i = 0; i < 20; i++) assert.match(await echoMeta(none.client), new RegExp(`^00-${CLIENT_TRACE}-[0-9a-f]{16}-00$`));
  await none.client.close();
  await none.proxy.stop();
  assert.equal(none.receiver.decode().spans.length, 0);

  const all = await tracedProxy(t, 'ok', { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1' }, ['--echo-meta']);
  const childSpans = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const got = await echoMeta(all.client);
    assert.match(got, new RegExp(`^00-${CLIENT_TRACE}-[0-9a-f]{16}-01$`));
    childSpans.add(got.split('-')[2]!);
  }
  await all.client.close();
  await all.proxy.stop();
  const { spans } = all.receiver.decode();
  const exported = new Set(spans.map((span) => span.spanId));
  for (const spanId of childSpans) assert.ok(exported.has(spanId), `the client span ${spanId} the child saw was exported`);
  assert.equal(spans.filter((span) => span.name === 'tools/call echo' && span.kind === 2).length, 20, 'a server span per call');
});
