import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkParamHeaders, paramHeaderValues, paramHeadersOf, ParamHeaderRegistry } from '../src/protocol/param-headers.ts';
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
