import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkParamHeaders, paramHeaderFault, paramHeaderValues, paramHeadersOf, ParamHeaderRegistry } from '../src/protocol/param-headers.ts';
import { RpcCode } from '../src/protocol/errors.ts';

const SCHEMA = {
  type: 'object',
  properties: {
    region: { type: 'string', 'x-mcp-header': 'Region' },
    count: { type: 'integer', 'x-mcp-header': 'Count' },
    nested: { type: 'object', properties: { flag: { type: 'boolean', 'x-mcp-header': 'Flag' } } },
    list: { type: 'array', items: { type: 'string', 'x-mcp-header': 'Item' } },
    plain: { type: 'string' },
  },
};
/** SCHEMA without its `items` declaration, which a client must refuse. */
const SCHEMA_VALID = { ...SCHEMA, properties: { ...SCHEMA.properties, list: { type: 'array', items: { type: 'string' } } } };
const b64 = (text: string): string => `=?base64?${Buffer.from(text).toString('base64')}?=`;

test('declarations come only from properties chains, with their paths and types', () => {
  assert.deepEqual(paramHeadersOf(SCHEMA), [
    { path: ['region'], headerName: 'Region', type: 'string' },
    { path: ['count'], headerName: 'Count', type: 'integer' },
    { path: ['nested', 'flag'], headerName: 'Flag', type: 'boolean' },
  ]);
  assert.deepEqual(paramHeadersOf(undefined), []);
});

const declared = paramHeadersOf(SCHEMA);
const CASES: Array<{ name: string; args: unknown; headers: Record<string, string>; ok: boolean }> = [
  { name: 'all equal', args: { region: 'eu', count: 3, nested: { flag: true } }, headers: { 'mcp-param-region': 'eu', 'mcp-param-count': '3', 'mcp-param-flag': 'true' }, ok: true },
  { name: 'numbers compare numerically', args: { region: 'eu', count: 42 }, headers: { 'mcp-param-region': 'eu', 'mcp-param-count': '42.0' }, ok: true },
  { name: 'base64 sentinel decoded', args: { region: 'zürich' }, headers: { 'mcp-param-region': b64('zürich') }, ok: true },
  { name: 'absent or null argument: no header expected', args: { region: 'eu', count: null }, headers: { 'mcp-param-region': 'eu' }, ok: true },
  { name: 'header missing', args: { region: 'eu' }, headers: {}, ok: false },
  { name: 'header differs', args: { region: 'eu' }, headers: { 'mcp-param-region': 'us' }, ok: false },
  { name: 'boolean differs', args: { region: 'eu', nested: { flag: false } }, headers: { 'mcp-param-region': 'eu', 'mcp-param-flag': 'true' }, ok: false },
];
for (const { name, args, headers, ok } of CASES) {
  test(`Mcp-Param check: ${name}`, () => {
    const run = (): void => checkParamHeaders(declared, args, headers);
    if (ok) assert.doesNotThrow(run);
    else assert.throws(run, (err: { status: number; rpcCode: number }) => err.status === 400 && err.rpcCode === RpcCode.headerMismatch);
  });
}

test('the registry learns from tools/list results and leaves unknown tools alone', () => {
  const registry = new ParamHeaderRegistry();
  registry.check({ name: 'geo', arguments: { region: 'eu' } }, {});
  registry.learn({ tools: [{ name: 'geo', inputSchema: SCHEMA }, { name: 'plain', inputSchema: { properties: { a: { type: 'string' } } } }] });
  assert.throws(() => registry.check({ name: 'geo', arguments: { region: 'eu' } }, {}));
  assert.doesNotThrow(() => registry.check({ name: 'plain', arguments: { a: 'x' } }, {}));
});

test('the headers a call carries: declared arguments present, encoded for the wire, round-tripping through the check', () => {
  const cases: Array<[unknown, Record<string, string>]> = [
    [{ region: 'eu', count: 3, nested: { flag: false }, plain: 'x' }, { 'mcp-param-region': 'eu', 'mcp-param-count': '3', 'mcp-param-flag': 'false' }],
    [{ region: 'zürich' }, { 'mcp-param-region': b64('zürich') }],
    [{ region: ' padded ' }, { 'mcp-param-region': b64(' padded ') }],
    [{ region: '=?base64?eA==?=' }, { 'mcp-param-region': b64('=?base64?eA==?=') }],
    [{ region: '' }, { 'mcp-param-region': b64('') }],
    [{ region: null, count: 2 ** 53 }, {}],
    [{ list: ['a'] }, {}],
    [undefined, {}],
  ];
  for (const [args, expected] of cases) {
    const headers = paramHeaderValues(declared, args);
    assert.deepEqual(headers, expected, JSON.stringify(args));
    assert.doesNotThrow(() => checkParamHeaders(declared, args, headers), JSON.stringify(args));
  }
  const registry = new ParamHeaderRegistry();
  registry.learn({ tools: [{ name: 'geo', inputSchema: SCHEMA }] });
  assert.deepEqual(registry.headersFor({ name: 'geo', arguments: { region: 'eu' } }), { 'mcp-param-region': 'eu' });
  assert.deepEqual(registry.headersFor({ name: 'unknown', arguments: { region: 'eu' } }), {});
  assert.equal(registry.knows('geo'), true);
  assert.equal(registry.knows('unknown'), false);
});

test('declarations that make a tool invalid for a 2026-07-28 client, and those that do not', () => {
  const prop = (extra: Record<string, unknown>): unknown => ({ type: 'object', properties: { p: { type: 'string', ...extra } } });
  const cases: Array<[string, unknown, RegExp | undefined]> = [
    ['none at all', { type: 'object', properties: { p: { type: 'string' } } }, undefined],
    ['string, integer and boolean, nested through properties', SCHEMA_VALID, undefined],
    ['under items', { type: 'object', properties: { l: { type: 'array', items: { type: 'string', 'x-mcp-header': 'L' } } } }, /l\.items: .*reached through "properties"/],
    ['under anyOf', { type: 'object', anyOf: [{ properties: { a: { type: 'string', 'x-mcp-header': 'A' } } }] }, /anyOf\.a: .*reached through "properties"/],
    ['under $defs', { type: 'object', $defs: { d: { type: 'string', 'x-mcp-header': 'D' } } }, /\$defs: .*reached through "properties"/],
    ['on the root', { type: 'object', 'x-mcp-header': 'Root' }, /the schema root/],
    ['a number property', prop({ type: 'number', 'x-mcp-header': 'N' }), /"number" property/],
    ['no type', { type: 'object', properties: { p: { 'x-mcp-header': 'P' } } }, /null property/],
    ['not a token', prop({ 'x-mcp-header': 'Region Name' }), /"Region Name" is not a header name/],
    ['a CR/LF injection', prop({ 'x-mcp-header': 'X\r\nEvil: 1' }), /is not a header name/],
    ['empty', prop({ 'x-mcp-header': '' }), /is not a header name/],
    ['twice, case-insensitively', { type: 'object', properties: { a: { type: 'string', 'x-mcp-header': 'Region' }, b: { type: 'integer', 'x-mcp-header': 'REGION' } } }, /declared twice/],
  ];
  for (const [what, schema, fault] of cases) {
    const got = paramHeaderFault(schema);
    if (fault === undefined) assert.equal(got, undefined, what);
    else assert.match(String(got), fault, what);
  }
});

test('the registry takes invalid tools out of a tools/list result, says so once, and keeps the rest', () => {
  const told: string[] = [];
  const registry = new ParamHeaderRegistry((tool, why) => told.push(`${tool}: ${why}`));
  const list = (): { tools: unknown[] } => ({ tools: [
    { name: 'good', inputSchema: SCHEMA_VALID },
    { name: 'bad', inputSchema: { type: 'object', properties: { n: { type: 'number', 'x-mcp-header': 'N' } } } },
  ] });
  for (let i = 0; i < 2; i++) {
    const result = list();
    registry.learn(result);
    assert.deepEqual(result.tools.map((tool) => (tool as { name: string }).name), ['good']);
  }
  assert.equal(told.length, 1, told.join('\n'));
  assert.match(String(registry.whyExcluded('bad')), /"number" property/);
  assert.ok(registry.knows('bad') && registry.knows('good') && !registry.knows('other'));
  assert.deepEqual(registry.headersFor({ name: 'good', arguments: { region: 'eu' } }), { 'mcp-param-region': 'eu' });
});
