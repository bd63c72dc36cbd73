/**
 * The 2026-07-28 envelope: classifyPost (MCP-ERAS §1.4, in order), validateModernRequest (the spec's
 * order of checks: header vs claim, envelope shape, version served, required headers), decodeHeaderValue,
 * withoutEnvelope. Pure: plain values in, ProxyError out.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { ProxyError } from '../src/protocol/errors.ts';
import { classifyPost, clientCapabilitiesOf, hasEnvelopeClaim, validateModernRequest, withoutEnvelope } from '../src/downstream/stateless/envelope.ts';
import { decodeHeaderValue, type Headers } from '../src/protocol/header-values.ts';
import { CLIENT_CAPABILITIES_KEY, CLIENT_INFO_KEY, LOG_LEVEL_KEY, PROTOCOL_VERSION_KEY } from '../src/protocol/meta-keys.ts';

const MODERN = '2026-07-28';
const envelope = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  [PROTOCOL_VERSION_KEY]: MODERN,
  [CLIENT_CAPABILITIES_KEY]: {},
  ...extra,
});
/** `meta: null` sends no `_meta` at all. */
const request = (method: string, params: Record<string, unknown> = {}, meta: Record<string, unknown> | null = envelope()): Record<string, unknown> => ({
  jsonrpc: '2.0', id: 1, method, params: meta === null ? params : { ...params, _meta: meta },
});
const headersFor = (method: string, name?: string): Headers => ({
  'mcp-protocol-version': MODERN, 'mcp-method': method, ...(name === undefined ? {} : { 'mcp-name': name }),
});
const b64 = (text: string): string => `=?base64?${Buffer.from(text, 'utf8').toString('base64')}?=`;

/** The status and JSON-RPC code `fn` throws, or 'ok'. */
function outcome(fn: () => unknown): string {
  try {
    const value = fn();
    return typeof value === 'string' ? value : 'ok';
  } catch (err) {
    if (!(err instanceof ProxyError)) throw err;
    return `${err.status} ${err.rpcCode}`;
  }
}

test('classifyPost follows §1.4 rule by rule', () => {
  const claim = request('tools/list');
  const bare = request('tools/list', {}, null);
  const cases: Array<[string, unknown, Headers, string]> = [
    ['batch with an enveloped element', [bare, claim], {}, '400 -32600'],
    ['batch without claims', [bare, { ...bare, id: 2 }], {}, 'legacy'],
    ['empty batch', [], {}, 'legacy'],
    ['posted response', { jsonrpc: '2.0', id: 1, result: {} }, { 'mcp-protocol-version': MODERN }, 'legacy'],
    ['garbage object', { hello: 1 }, {}, 'legacy'],
    ['initialize, no claim, no header', request('initialize', { protocolVersion: '2025-11-25' }, null), {}, 'legacy'],
    ['initialize, no claim, legacy header', request('initialize', {}, null), { 'mcp-protocol-version': '2025-06-18' }, 'legacy'],
    ['initialize, no claim, modern header', request('initialize', {}, null), { 'mcp-protocol-version': MODERN }, '400 -32020'],
    ['initialize with an envelope', request('initialize'), {}, 'modern'],
    ['claim, no headers at all', claim, {}, 'modern'],
    ['claim with a stale session id', claim, { 'mcp-session-id': 'stale', 'mcp-protocol-version': MODERN }, 'modern'],
    ['claim with a legacy header', claim, { 'mcp-protocol-version': '2025-11-25' }, 'modern'],
    ['claim of an unknown version', request('tools/list', {}, envelope({ [PROTOCOL_VERSION_KEY]: '2099-01-01' })), {}, 'modern'],
    ['claim with a malformed envelope', request('tools/list', {}, { [PROTOCOL_VERSION_KEY]: MODERN }), {}, 'modern'],
    ['no claim, modern header, request', bare, { 'mcp-protocol-version': MODERN }, '400 -32602'],
    ['no claim, modern header, notification', { jsonrpc: '2.0', method: 'notifications/x' }, { 'mcp-protocol-version': MODERN }, 'modern'],
    ['no claim, legacy header', bare, { 'mcp-protocol-version': '2025-11-25' }, 'legacy'],
    ['no claim, no header, no session', bare, {}, 'legacy'],
    ['no claim, _meta without the version key', request('tools/list', {}, { progressToken: 1 }), {}, 'legacy'],
    ['notification with a claim', { jsonrpc: '2.0', method: 'notifications/x', params: { _meta: envelope() } }, {}, 'modern'],
  ];
  for (const [name, body, headers, expected] of cases) {
    assert.equal(outcome(() => classifyPost(body, headers)), expected, name);
  }
});

test('hasEnvelopeClaim looks only at params._meta', () => {
  assert.equal(hasEnvelopeClaim(request('x')), true);
  assert.equal(hasEnvelopeClaim({ jsonrpc: '2.0', id: 1, method: 'x', _meta: envelope() }), false);
  assert.equal(hasEnvelopeClaim({ jsonrpc: '2.0', id: 1, method: 'x', params: [1] }), false);
  assert.equal(hasEnvelopeClaim(null), false);
  assert.equal(hasEnvelopeClaim('x'), false);
});

test('validateModernRequest accepts a well-formed request, sentinel-encoded headers included', () => {
  assert.equal(outcome(() => validateModernRequest(request('tools/list'), headersFor('tools/list'))), 'ok');
  assert.equal(outcome(() => validateModernRequest(request('tools/call', { name: 'échö' }), headersFor('tools/call', b64('échö')))), 'ok');
  assert.equal(outcome(() => validateModernRequest(request('prompts/get', { name: 'greet' }), headersFor('prompts/get', 'greet'))), 'ok');
  assert.equal(outcome(() => validateModernRequest(request('resources/read', { uri: 'fixture://a' }), headersFor('resources/read', 'fixture://a'))), 'ok');
  assert.equal(outcome(() => validateModernRequest(request('tools/list'), { ...headersFor('tools/list'), 'mcp-method': b64('tools/list') })), 'ok');
  // Optional envelope keys, when well-formed.
  const full = envelope({ [CLIENT_INFO_KEY]: { name: 'c', version: '1' }, [LOG_LEVEL_KEY]: 'debug' });
  assert.equal(outcome(() => validateModernRequest(request('tools/list', {}, full), headersFor('tools/list'))), 'ok');
});

test('validateModernRequest: each failure and its code', () => {
  const cases: Array<[string, Record<string, unknown>, Headers, string]> = [
    ['header version ≠ claim', request('tools/list'), { ...headersFor('tools/list'), 'mcp-protocol-version': '2025-11-25' }, '400 -32020'],
    ['no clientCapabilities', request('tools/list', {}, { [PROTOCOL_VERSION_KEY]: MODERN }), headersFor('tools/list'), '400 -32602'],
    ['clientCapabilities not an object', request('tools/list', {}, envelope({ [CLIENT_CAPABILITIES_KEY]: [] })), headersFor('tools/list'), '400 -32602'],
    ['version claim not a string', request('tools/list', {}, envelope({ [PROTOCOL_VERSION_KEY]: 20260728 })), {}, '400 -32602'],
    ['clientInfo not an object', request('tools/list', {}, envelope({ [CLIENT_INFO_KEY]: 'me' })), headersFor('tools/list'), '400 -32602'],
    ['logLevel not a level', request('tools/list', {}, envelope({ [LOG_LEVEL_KEY]: 'loud' })), headersFor('tools/list'), '400 -32602'],
    ['missing MCP-Protocol-Version', request('tools/list'), { 'mcp-method': 'tools/list' }, '400 -32020'],
    ['missing Mcp-Method', request('tools/list'), { 'mcp-protocol-version': MODERN }, '400 -32020'],
    ['different Mcp-Method', request('tools/list'), headersFor('prompts/list'), '400 -32020'],
    ['Mcp-Method differs in case', request('tools/list'), headersFor('Tools/List'), '400 -32020'],
    ['missing Mcp-Name for tools/call', request('tools/call', { name: 'echo' }), headersFor('tools/call'), '400 -32020'],
    ['different Mcp-Name for tools/call', request('tools/call', { name: 'echo' }), headersFor('tools/call', 'slow'), '400 -32020'],
    ['missing Mcp-Name for prompts/get', request('prompts/get', { name: 'greet' }), headersFor('prompts/get'), '400 -32020'],
    ['missing Mcp-Name for resources/read', request('resources/read', { uri: 'a://b' }), headersFor('resources/read'), '400 -32020'],
    ['Mcp-Name compared with params.uri, not name', request('resources/read', { uri: 'a://b', name: 'x' }), headersFor('resources/read', 'x'), '400 -32020'],
    ['sentinel that decodes to another name', request('tools/call', { name: 'echo' }), headersFor('tools/call', b64('slow')), '400 -32020'],
  ];
  for (const [name, body, headers, expected] of cases) {
    assert.equal(outcome(() => validateModernRequest(body, headers)), expected, name);
  }
});

test('validateModernRequest: -32022 names the versions served and the one requested', () => {
  const body = request('tools/list', {}, envelope({ [PROTOCOL_VERSION_KEY]: '2099-01-01' }));
  const err = (() => {
    try {
      validateModernRequest(body, { 'mcp-protocol-version': '2099-01-01', 'mcp-method': 'tools/list' });
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(err instanceof ProxyError);
  assert.equal(err.status, 400);
  assert.equal(err.rpcCode, -32022);
  assert.deepEqual(err.data, { supported: ['2026-07-28'], requested: '2099-01-01' });
});

test('validateModernRequest checks in the spec order', () => {
  // Header ≠ claim wins over a malformed envelope.
  const noCaps = request('tools/list', {}, { [PROTOCOL_VERSION_KEY]: MODERN });
  assert.equal(outcome(() => validateModernRequest(noCaps, { 'mcp-protocol-version': '2025-11-25' })), '400 -32020');
  // A malformed envelope wins over an unsupported version.
  const badAndOld = request('tools/list', {}, { [PROTOCOL_VERSION_KEY]: '2099-01-01' });
  assert.equal(outcome(() => validateModernRequest(badAndOld, {})), '400 -32602');
  // An unsupported version wins over missing required headers (they are checked only after).
  const old = request('tools/call', { name: 'echo' }, envelope({ [PROTOCOL_VERSION_KEY]: '2099-01-01' }));
  assert.equal(outcome(() => validateModernRequest(old, {})), '400 -32022');
  // A malformed envelope wins over missing headers.
  assert.equal(outcome(() => validateModernRequest(noCaps, {})), '400 -32602');
  // Version header checked before Mcp-Method, Mcp-Method before Mcp-Name (all -32020, messages tell them apart).
  const call = request('tools/call', { name: 'echo' });
  const messageOf = (headers: Headers): string => {
    try {
      validateModernRequest(call, headers);
      return 'ok';
    } catch (err) {
      return (err as Error).message;
    }
  };
  assert.match(messageOf({}), /MCP-Protocol-Version/);
  assert.match(messageOf({ 'mcp-protocol-version': MODERN }), /Mcp-Method/);
  assert.match(messageOf({ 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call' }), /Mcp-Name/);
});

test('decodeHeaderValue decodes only the whole sentinel form', () => {
  assert.equal(decodeHeaderValue('plain'), 'plain');
  assert.equal(decodeHeaderValue(b64('héllo wörld')), 'héllo wörld');
  assert.equal(decodeHeaderValue(b64('=?base64?eA==?=')), '=?base64?eA==?=', 'a value that looks like the sentinel travels encoded');
  assert.equal(decodeHeaderValue('=?base64??='), '');
  assert.equal(decodeHeaderValue('x=?base64?eA==?='), 'x=?base64?eA==?=', 'prefix: not a sentinel');
  assert.equal(decodeHeaderValue('=?base64?eA==?=x'), '=?base64?eA==?=x', 'suffix: not a sentinel');
  assert.equal(decodeHeaderValue('=?BASE64?eA==?='), '=?BASE64?eA==?=');
});

test('withoutEnvelope removes the envelope keys the proxy makes anew and keeps logLevel, progressToken and trace keys', () => {
  const params: Record<string, unknown> = {
    name: 'echo',
    _meta: envelope({ [CLIENT_INFO_KEY]: { name: 'c', version: '1' }, [LOG_LEVEL_KEY]: 'info', progressToken: 7, traceparent: '00-x' }),
  };
  assert.deepEqual(withoutEnvelope(params), { name: 'echo', _meta: { [LOG_LEVEL_KEY]: 'info', progressToken: 7, traceparent: '00-x' } });
  assert.deepEqual(withoutEnvelope({ name: 'echo', _meta: envelope() }), { name: 'echo' }, 'an emptied _meta is removed');
  assert.deepEqual(withoutEnvelope({ name: 'echo' }), { name: 'echo' });
});

test('clientCapabilitiesOf reads the declared capabilities', () => {
  assert.deepEqual(clientCapabilitiesOf(request('x', {}, envelope({ [CLIENT_CAPABILITIES_KEY]: { elicitation: {} } }))), { elicitation: {} });
  assert.deepEqual(clientCapabilitiesOf(request('x', {}, null)), {});
});
