/**
 * Result shapes for a 2026-07-28 client served by a legacy child: resultType everywhere, ttlMs and
 * cacheScope on the cacheable results, serverInfo in _meta, task fields dropped, -32002 → -32602, and
 * server/discover built from the child's InitializeResult. Pure.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { SERVER_INFO_KEY } from '../src/protocol/meta-keys.ts';
import { discoverFromInitialize, mapError, shapeResult } from '../src/downstream/stateless/shape.ts';

const SERVER_INFO = { name: 'child', version: '1.2.3' };
const CACHEABLE = ['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'resources/read', 'server/discover'];

test('every result gets resultType "complete"; only cacheable ones get ttlMs and cacheScope', () => {
  for (const method of [...CACHEABLE, 'tools/call', 'prompts/get', 'completion/complete']) {
    const shaped = shapeResult(method, { x: 1 }, SERVER_INFO);
    assert.equal(shaped.resultType, 'complete', method);
    assert.equal(shaped.x, 1, method);
    if (CACHEABLE.includes(method)) {
      assert.equal(typeof shaped.ttlMs, 'number', method);
      assert.ok(Number.isInteger(shaped.ttlMs) && (shaped.ttlMs as number) >= 0, method);
      assert.ok(['public', 'private'].includes(shaped.cacheScope as string), method);
    } else {
      assert.equal('ttlMs' in shaped, false, method);
      assert.equal('cacheScope' in shaped, false, method);
    }
  }
});

test('serverInfo goes into _meta next to what the child put there; the input is not mutated', () => {
  const result = { content: [], _meta: { 'vendor/x': 1 } };
  const shaped = shapeResult('tools/call', result, SERVER_INFO);
  assert.deepEqual(shaped._meta, { 'vendor/x': 1, [SERVER_INFO_KEY]: SERVER_INFO });
  assert.deepEqual(result, { content: [], _meta: { 'vendor/x': 1 } });
  assert.equal('_meta' in shapeResult('tools/call', {}, undefined), false, 'no serverInfo known: no _meta added');
});

test('what the child already says is kept', () => {
  const shaped = shapeResult('tools/list', { tools: [], resultType: 'input_required', ttlMs: 5000, cacheScope: 'public' }, SERVER_INFO);
  assert.equal(shaped.resultType, 'input_required');
  assert.equal(shaped.ttlMs, 5000);
  assert.equal(shaped.cacheScope, 'public');
});

test('a non-object result becomes an object with resultType', () => {
  assert.equal(shapeResult('tools/call', null, undefined).resultType, 'complete');
  assert.equal(shapeResult('tools/call', 'x', undefined).resultType, 'complete');
});

test('tools/list drops the 2025-11-25 task field execution', () => {
  const shaped = shapeResult('tools/list', {
    tools: [{ name: 'a', inputSchema: { type: 'object' }, execution: { taskSupport: 'optional' } }, { name: 'b', inputSchema: { type: 'object' } }],
  }, SERVER_INFO);
  assert.deepEqual(shaped.tools, [{ name: 'a', inputSchema: { type: 'object' } }, { name: 'b', inputSchema: { type: 'object' } }]);
});

test('mapError turns the retired -32002 into -32602 and leaves every other code alone', () => {
  assert.deepEqual(mapError({ code: -32002, message: 'Resource not found', data: { uri: 'x' } }), { code: -32602, message: 'Resource not found', data: { uri: 'x' } });
  for (const code of [-32601, -32602, -32603, -32000, -32001, -32042, 1]) {
    assert.equal(mapError({ code, message: 'm' }).code, code);
  }
});

test('server/discover from an InitializeResult', () => {
  const discover = discoverFromInitialize({
    protocolVersion: '2025-11-25',
    capabilities: { tools: { listChanged: true }, tasks: { list: {} }, resources: { subscribe: true } },
    serverInfo: SERVER_INFO,
    instructions: 'be nice',
  });
  assert.equal(discover.resultType, 'complete');
  assert.ok((discover.supportedVersions as string[]).includes('2026-07-28'));
  assert.ok((discover.supportedVersions as string[]).every((v) => v >= '2026-07-28'), 'only modern versions are listed');
  assert.deepEqual(discover.capabilities, { tools: { listChanged: true }, resources: { subscribe: true } }, 'tasks dropped');
  assert.equal(discover.instructions, 'be nice');
  assert.deepEqual(discover._meta, { [SERVER_INFO_KEY]: SERVER_INFO });
  assert.equal(typeof discover.ttlMs, 'number');
  assert.ok(['public', 'private'].includes(discover.cacheScope as string));
  const bare = discoverFromInitialize({ serverInfo: SERVER_INFO });
  assert.deepEqual(bare.capabilities, {});
  assert.equal('instructions' in bare, false);
});
