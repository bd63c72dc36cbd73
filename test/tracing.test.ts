// Tracing end to end: spans decoded by the official OTLP schema, one trace from the client through the
// aggregate into a stdio member and through a second mcpproxy (a remote member) into its child.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectClient, FIXTURE, startProxy, textOf, withDeadline } from './helpers/proxy.ts';
import { OtlpReceiver, type DecodedSpan } from './helpers/otlp-receiver.ts';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const SERVER = 2;
const CLIENT = 3;
const INTERNAL = 1;
const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const OUTER_KEY = 'outer-bearer-token-9d1c';
const INNER_KEY = 'inner-bearer-token-77ab';
const SESSION_SECRET = 'per-session-secret-5e0f';

function byId(spans: DecodedSpan[]): Map<string, DecodedSpan> {
  return new Map(spans.map((span) => [span.spanId, span]));
}

/** The chain of spans from `spanId` up to the root, names and kinds. */
function chain(spans: Map<string, DecodedSpan>, spanId: string): DecodedSpan[] {
  const out: DecodedSpan[] = [];
  for (let span = spans.get(spanId); span !== undefined; span = spans.get(span.parentSpanId)) out.push(span);
  return out;
}

function traceparentOf(text: string): { traceId: string; spanId: string; flags: string } {
  const meta = JSON.parse(text) as { traceparent?: string };
  const [, traceId, spanId, flags] = (meta.traceparent ?? '').split('-');
  assert.ok(traceId !== undefined && spanId !== undefined && flags !== undefined, `no traceparent in ${text}`);
  return { traceId, spanId, flags };
}

test('one tools/call through the aggregate makes one trace: client → aggregate → stdio member, and → remote mcpproxy → its child', { timeout: 120_000 }, async (t) => {
  const receiver = new OtlpReceiver();
  const collector = await receiver.listen();
  t.after(() => receiver.close());
  const dir = mkdtempSync(join(tmpdir(), 'tracing-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const otel = { OTEL_BSP_SCHEDULE_DELAY: '50' };
  const inner = await startProxy(['--auth-key', INNER_KEY, '--otlp-endpoint', collector, '--', process.execPath, FIXTURE, '--echo-meta'], { env: { ...otel, OTEL_SERVICE_NAME: 'inner' } });
  t.after(() => inner.stop());
  const file = join(dir, 'servers.json');
  writeFileSync(file, JSON.stringify({ mcpServers: {
    local: { command: process.execPath, args: [FIXTURE, '--echo-meta'], mode: 'independent', allowEnv: ['SESSION_SECRET'] },
    remote: { url: `${inner.url}/mcp`, headers: { Authorization: `Bearer ${INNER_KEY}` } },
  } }));
  const audit = join(dir, 'audit.jsonl');
  const outer = await startProxy(['--config', file, '--auth-key', OUTER_KEY, '--otlp-endpoint', `${collector}/`, '--otel-enduser', '--audit-log', audit, '--log-level', 'debug'], {
    env: { ...otel, OTEL_SERVICE_NAME: 'outer', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test' },
  });
  t.after(() => outer.stop());
  const { client } = await connectClient(outer.url, 'streamable', {
    headers: { authorization: `Bearer ${OUTER_KEY}`, 'x-mcp-env': `SESSION_SECRET=${SESSION_SECRET}` }, capabilities: { sampling: {} },
  });
  t.after(() => client.close());
  let samplingMeta: unknown;
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
    samplingMeta = req.params._meta;
    return { role: 'assistant', model: 'm', content: { type: 'text', text: 'sampled' } };
  });
  const call = (name: string, args: Record<string, unknown>) =>
    withDeadline(client.callTool({ name, arguments: args, _meta: { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`, tracestate: 'vendor=abc' } }), 30_000, name);
  // The secret reached the child (so its absence from the spans below means something).
  assert.equal(JSON.parse(textOf(await call('local__env', { name: 'SESSION_SECRET' }))).value, SESSION_SECRET);
  const local = traceparentOf(textOf(await call('local__echo', { text: 'hi' })));
  const remote = traceparentOf(textOf(await call('remote__echo', { text: 'hi' })));
  assert.equal(textOf(await call('local__ask-sampling', { prompt: 'p' })), 'sampled');
  await client.close();
  // SIGTERM flushes what is queued within the shutdown budget.
  await outer.stop();
  await inner.stop();

  const { spans, reencoded } = receiver.decode();
  assert.ok(reencoded, 'every body is canonical protobuf of the official schema');
  const all = byId(spans);
  assert.equal(local.traceId, CLIENT_TRACE, 'the child continues the client\'s trace');
  assert.equal(local.flags, '01');
  // The stdio child got the proxy's client span: client span → route → server span → the client's span.
  const localChain = chain(all, local.spanId);
  assert.deepEqual(localChain.map((s) => [s.name, s.kind]), [['tools/call echo', CLIENT], ['route local', INTERNAL], ['tools/call local__echo', SERVER]]);
  const [toChild, route, front] = localChain as [DecodedSpan, DecodedSpan, DecodedSpan];
  assert.equal(front.parentSpanId, CLIENT_SPAN, 'the client\'s _meta.traceparent is the root\'s parent');
  assert.equal(front.traceState, 'vendor=abc');
  for (const span of localChain) assert.equal(span.traceId, CLIENT_TRACE);
  assert.equal(front.attributes['mcp.method.name'], 'tools/call');
  assert.equal(front.attributes['gen_ai.tool.name'], 'local__echo');
  assert.equal(front.attributes['gen_ai.operation.name'], 'execute_tool');
  assert.equal(front.attributes['mcpproxy.transport'], 'streamable');
  assert.equal(front.attributes['network.transport'], 'tcp');
  assert.equal(front.attributes['mcp.protocol.version'], '2025-11-25');
  assert.equal(front.attributes['enduser.id'], 'key:default');
  assert.equal(typeof front.attributes['mcp.session.id'], 'string');
  assert.equal(typeof front.attributes['jsonrpc.request.id'], 'string');
  assert.equal(front.attributes['mcpproxy.outcome'], 'result');
  assert.equal(route.attributes['mcpproxy.member'], 'local');
  assert.equal(toChild.attributes['network.transport'], 'pipe');
  assert.equal(toChild.attributes['gen_ai.tool.name'], 'echo');
  assert.equal(front.resource['service.name'], 'outer');
  assert.equal(front.resource['deployment.environment'], 'test');
  assert.equal(front.resource['telemetry.sdk.language'], 'nodejs');
  assert.ok(front.end >= front.start && toChild.start >= front.start);

  // The remote member: the outer proxy's client span (tcp) is the inner proxy's server span's parent.
  assert.equal(remote.traceId, CLIENT_TRACE);
  const remoteChain = chain(all, remote.spanId);
  assert.deepEqual(remoteChain.map((s) => [s.name, s.kind, s.resource['service.name']]), [
    ['tools/call echo', CLIENT, 'inner'], ['tools/call echo', SERVER, 'inner'],
    ['tools/call echo', CLIENT, 'outer'], ['route remote', INTERNAL, 'outer'], ['tools/call remote__echo', SERVER, 'outer'],
  ]);
  assert.equal(remoteChain.at(-1)!.parentSpanId, CLIENT_SPAN);
  assert.equal(remoteChain[2]!.attributes['server.address'], '127.0.0.1');
  assert.equal(remoteChain[1]!.attributes['enduser.id'], undefined, 'no --otel-enduser on the inner proxy');

  // A sampling round trip back to the client: a client span under the call's server span, its context sent to the client.
  const asked = spans.find((span) => span.name === 'sampling/createMessage')!;
  assert.equal(asked.kind, CLIENT);
  assert.equal(all.get(asked.parentSpanId)?.name, 'tools/call local__ask-sampling');
  assert.equal((samplingMeta as { traceparent?: string }).traceparent, `00-${CLIENT_TRACE}-${asked.spanId}-01`);

  // Nothing secret in any exported byte.
  for (const secret of [OUTER_KEY, INNER_KEY, SESSION_SECRET]) assert.ok(!receiver.raw.includes(secret), `${secret} was exported`);
  // Logs and the audit line join the trace.
  const lines = readFileSync(audit, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  const audited = lines.find((line) => line.name === 'local__echo')!;
  assert.equal(audited.trace_id, CLIENT_TRACE);
  assert.equal(audited.span_id, front.spanId);
  const logged = outer.logs().split('\n').filter((line) => line.includes(CLIENT_TRACE));
  assert.ok(logged.some((line) => line.includes('request done') && line.includes(`trace_id=${CLIENT_TRACE} span_id=${toChild.spanId}`)), `a log line of the request names its trace:\n${logged.join('\n')}`);
});
