// The pure parts of trace/: W3C traceparent/tracestate, the sampler, the settings, the OTLP encoding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTraceparent, parseTraceparent, parseTracestate } from '../src/trace/trace-context.ts';
import { buildSampler } from '../src/trace/sampler.ts';
import { buildTraceConfig, headersFile, keyValues } from '../src/trace/trace-config.ts';
import { mcpOperation, errorOf } from '../src/trace/mcp-attributes.ts';
import { SpanBatch } from '../src/trace/otlp.ts';
import { Span, SpanKind } from '../src/trace/span.ts';
import { OtlpReceiver } from './helpers/otlp-receiver.ts';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';

test('traceparent: what the W3C spec accepts and refuses', () => {
  const cases: Array<[string, boolean | undefined]> = [
    [`00-${T}-${S}-01`, true],
    [`00-${T}-${S}-00`, false],
    [`00-${T}-${S}-03`, true], // other flag bits are ignored
    [`01-${T}-${S}-01-future`, true], // a later version may add fields
    [`00-${T}-${S}-01-extra`, undefined], // version 00 has exactly four
    [`ff-${T}-${S}-01`, undefined],
    [`00-${'0'.repeat(32)}-${S}-01`, undefined],
    [`00-${T}-${'0'.repeat(16)}-01`, undefined],
    [`00-${T.toUpperCase()}-${S}-01`, undefined],
    [`00-${T.slice(1)}-${S}-01`, undefined],
    ['', undefined],
    ['garbage', undefined],
  ];
  for (const [value, sampled] of cases) assert.equal(parseTraceparent(value)?.isSampled, sampled, value);
  assert.equal(parseTraceparent(42), undefined);
  const ctx = parseTraceparent(`00-${T}-${S}-01`, 'a=1')!;
  assert.deepEqual(ctx, { traceId: T, spanId: S, isSampled: true, traceState: 'a=1' });
  assert.equal(formatTraceparent(ctx), `00-${T}-${S}-01`);
  assert.equal(formatTraceparent({ ...ctx, isSampled: false }), `00-${T}-${S}-00`);
});

test('tracestate: valid members kept, a broken header dropped whole', () => {
  assert.equal(parseTracestate('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7'), 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
  assert.equal(parseTracestate(' a=1 , ,tenant@vendor=x'), 'a=1,tenant@vendor=x');
  assert.equal(parseTracestate('a=1,a=2'), undefined); // a repeated key
  assert.equal(parseTracestate('A=1'), undefined);
  assert.equal(parseTracestate('a=b,c'), undefined);
  assert.equal(parseTracestate('a=x=y'), undefined);
  assert.equal(parseTracestate(''), undefined);
  assert.equal(parseTracestate(Array.from({ length: 40 }, (_, i) => `k${i}=v`).join(','))?.split(',').length, 32);
});

test('sampler: parent-based by default, the ratio decided by the trace id', () => {
  const parent = (isSampled: boolean) => ({ traceId: T, spanId: S, isSampled, traceState: undefined });
  const def = buildSampler(undefined, undefined);
  assert.equal(def(undefined, T), true);
  assert.equal(def(parent(false), T), false);
  assert.equal(buildSampler('traceidratio', '0')(parent(true), T), false);
  assert.equal(buildSampler('traceidratio', '1')(parent(false), T), true);
  assert.equal(buildSampler('parentbased_traceidratio', '0')(parent(true), T), true);
  assert.equal(buildSampler('parentbased_traceidratio', '0')(undefined, T), false);
  assert.equal(buildSampler('always_off', undefined)(parent(true), T), false);
  // Half the ids pass at 0.5: the low 52 bits compared with the ratio.
  assert.equal(buildSampler('traceidratio', '0.5')(undefined, `${'0'.repeat(19)}7ffffffffffff`), true);
  assert.equal(buildSampler('traceidratio', '0.5')(undefined, `${'0'.repeat(19)}8000000000000`), false);
  assert.throws(() => buildSampler('sometimes', undefined), /not one of/);
  assert.throws(() => buildSampler('traceidratio', '2'), /ratio/);
});

test('settings: endpoints, headers (env and file), resource, off without an endpoint', () => {
  const read = (): string => '# comment\nx-api-key: s3cret\nx-team=blue\n';
  assert.equal(buildTraceConfig({}, {}, read), undefined);
  assert.equal(buildTraceConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }, read), undefined);
  assert.equal(buildTraceConfig({ otlpEndpoint: 'http://c:4318' }, {}, read)!.url.href, 'http://c:4318/v1/traces');
  assert.equal(buildTraceConfig({ otlpEndpoint: 'http://c:4318/custom' }, {}, read)!.url.href, 'http://c:4318/custom');
  assert.equal(buildTraceConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/otlp/' }, read)!.url.href, 'http://c:4318/otlp/v1/traces');
  assert.equal(buildTraceConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b/t' }, read)!.url.href, 'http://b/t');
  const config = buildTraceConfig({ otlpEndpoint: 'http://c', otlpHeadersFile: 'h.txt' }, {
    OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20abc', OTEL_SERVICE_NAME: 'gw', OTEL_RESOURCE_ATTRIBUTES: 'service.name=x,deployment.environment=prod',
  }, read)!;
  assert.deepEqual(config.headers, { authorization: 'Bearer abc', 'x-api-key': 's3cret', 'x-team': 'blue' });
  assert.deepEqual(config.resource, { 'service.name': 'gw', 'deployment.environment': 'prod' });
  assert.throws(() => buildTraceConfig({ otlpEndpoint: 'ftp://c' }, {}, read), /http/);
  assert.throws(() => buildTraceConfig({ otlpEndpoint: 'http://c' }, { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, read), /http\/protobuf/);
  assert.throws(() => buildTraceConfig({ otlpEndpoint: 'http://c' }, { OTEL_BSP_MAX_QUEUE_SIZE: '0' }, read), /positive/);
  assert.throws(() => keyValues('X', 'novalue'), /key=value/);
  assert.throws(() => headersFile('just words', 'f'), /line 1/);
});

test('MCP conventions: span names and attributes carry names, never arguments', () => {
  const call = mcpOperation('tools/call', { name: 'search', arguments: { q: 'secret' } }, 7);
  assert.equal(call.spanName, 'tools/call search');
  assert.deepEqual(call.attributes, { 'mcp.method.name': 'tools/call', 'jsonrpc.request.id': '7', 'gen_ai.tool.name': 'search', 'gen_ai.operation.name': 'execute_tool' });
  assert.equal(mcpOperation('prompts/get', { name: 'greet' }, 0).attributes['gen_ai.prompt.name'], 'greet');
  assert.equal(mcpOperation('resources/read', { uri: 'file:///a' }, 'x').spanName, 'resources/read');
  assert.equal(mcpOperation('notifications/initialized', undefined, undefined).attributes['jsonrpc.request.id'], undefined);
  assert.deepEqual(errorOf({ jsonrpc: '2.0', id: 1, error: { code: -32602, message: 'bad' } }), { errorType: '-32602', statusCode: '-32602' });
  assert.deepEqual(errorOf({ jsonrpc: '2.0', id: 1, result: { isError: true, content: [] } }), { errorType: 'tool_error', statusCode: undefined });
  assert.equal(errorOf({ jsonrpc: '2.0', id: 1, result: {} }), undefined);
});

test('OTLP protobuf: what the official schema decodes, byte for byte', async () => {
  const ended: Span[] = [];
  const span = new Span({ traceId: T, spanId: S, isSampled: true, traceState: 'a=1' }, 'b7ad6b7169203331', 'tools/call ü', SpanKind.client,
    { s: 'text', i: 42, neg: -5, d: 1.5, yes: true }, (s) => ended.push(s));
  span.end('-32000');
  const receiver = new OtlpReceiver();
  const batch = new SpanBatch();
  for (const s of ended) batch.add(s);
  receiver.bodies.push(batch.finish({ resource: { 'service.name': 'svc', 'process.pid': 123 }, scope: { name: 'mcpproxy', version: '1' } }));
  const { spans, reencoded } = receiver.decode();
  assert.ok(reencoded);
  const [got] = spans;
  assert.equal(got!.traceId, T);
  assert.equal(got!.spanId, S);
  assert.equal(got!.parentSpanId, 'b7ad6b7169203331');
  assert.equal(got!.traceState, 'a=1');
  assert.equal(got!.name, 'tools/call ü');
  assert.equal(got!.kind, 3);
  assert.equal(got!.status, 2);
  assert.deepEqual(got!.attributes, { s: 'text', i: 42, neg: -5, d: 1.5, yes: true, 'error.type': '-32000' });
  assert.deepEqual(got!.resource, { 'service.name': 'svc', 'process.pid': 123 });
  assert.ok(got!.end >= got!.start && got!.start > 1.7e18);
});

test('a JSON log line written within a span names its trace_id and span_id; outside, none', async () => {
  const { Logger } = await import('../src/observe/log.ts');
  const { tracing } = await import('../src/trace/tracer.ts');
  const lines: string[] = [];
  const log = new Logger('info', 'json', { write: (line) => lines.push(line) });
  tracing.within({ traceId: T, spanId: S, isSampled: true, traceState: undefined }, () => log.info('inside', { server: 'x' }));
  log.info('outside');
  const [inside, outside] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal(inside!.trace_id, T);
  assert.equal(inside!.span_id, S);
  assert.equal(inside!.server, 'x');
  assert.equal(outside!.trace_id, undefined);
});
