// The OpenAPI document built from a tool list, and a tools/call answer as HTTP: pure, table-driven.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { answerOf } from '../src/downstream/http-tools/answer.ts';
import { buildDocument, type DocumentOptions } from '../src/downstream/http-tools/document.ts';
import { ProxyError } from '../src/protocol/errors.ts';
import { assertValidOpenApi } from './helpers/openapi.ts';

const OPTIONS: DocumentOptions = { title: 't', version: '1', basePath: '', protection: { kind: 'none' } };
type Doc = { paths: Record<string, { post: Record<string, any> }>; components: { schemas: Record<string, any>; securitySchemes: Record<string, any> }; security: unknown[]; servers?: unknown };

const doc = (tools: unknown[], options: Partial<DocumentOptions> = {}): Doc => buildDocument(tools, { ...OPTIONS, ...options }) as unknown as Doc;

test('document: one POST per tool, schemas as components, local $refs rebased under them', async () => {
  const cases: Array<{ name: string; tools: unknown[]; check: (d: Doc) => void }> = [
    { name: 'empty list', tools: [], check: (d) => assert.deepEqual(d.paths, {}) },
    { name: 'not a tool is skipped', tools: [null, 3, { name: '' }, { description: 'no name' }], check: (d) => assert.deepEqual(d.paths, {}) },
    {
      name: 'a tool without an inputSchema takes any object',
      tools: [{ name: 'a' }],
      check: (d) => assert.deepEqual(d.components.schemas['a.input'], { type: 'object' }),
    },
    {
      name: 'operationId, summary from title, description, required body, content response',
      tools: [{ name: 'echo', title: 'Echo', description: 'says it', inputSchema: { type: 'object', properties: { m: { type: 'string' } }, required: ['m'] } }],
      check: (d) => {
        const op = d.paths['/tools/echo']!.post;
        assert.equal(op.operationId, 'echo');
        assert.equal(op.summary, 'Echo');
        assert.equal(op.description, 'says it');
        assert.equal(op.requestBody.required, true);
        assert.equal(op.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/ToolContent');
        assert.equal(op.responses['401'], undefined, 'no 401 when unprotected');
      },
    },
    {
      name: '$defs, nested refs and refs in arrays are rebased; refs inside enum/default data are not',
      tools: [{
        name: 'typed',
        inputSchema: {
          $schema: 'http://json-schema.org/draft-07/schema#', type: 'object',
          $defs: { p: { type: 'object', properties: { q: { $ref: '#/$defs/q' } } }, q: { enum: ['a', 'b'] } },
          properties: { p: { $ref: '#/$defs/p' }, list: { type: 'array', items: { anyOf: [{ $ref: '#/properties/p' }, { type: 'null' }] } }, d: { default: { $ref: '#/components/schemas/ToolContent' } } },
        },
        outputSchema: { type: 'object', definitions: { r: { type: 'number' } }, properties: { r: { $ref: '#/definitions/r' } } },
      }],
      check: (d) => {
        const input = d.components.schemas['typed.input'];
        assert.equal(input.$schema, undefined, 'the document dialect applies');
        assert.equal(input.properties.p.$ref, '#/components/schemas/typed.input/$defs/p');
        assert.equal(input.$defs.p.properties.q.$ref, '#/components/schemas/typed.input/$defs/q');
        assert.equal(input.properties.list.items.anyOf[0].$ref, '#/components/schemas/typed.input/properties/p');
        assert.deepEqual(input.properties.d.default, { $ref: '#/components/schemas/ToolContent' });
        assert.deepEqual(input.$defs.q.enum, ['a', 'b']);
        assert.equal(d.components.schemas['typed.output'].properties.r.$ref, '#/components/schemas/typed.output/definitions/r');
        assert.equal(d.paths['/tools/typed']!.post.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/typed.output');
      },
    },
    {
      name: 'names that are not component keys are made unique keys; the path keeps the name',
      tools: [{ name: 'a b' }, { name: 'a_b' }, { name: 'a/b' }],
      check: (d) => {
        assert.deepEqual(Object.keys(d.paths), ['/tools/a%20b', '/tools/a_b', '/tools/a%2Fb']);
        assert.deepEqual(Object.keys(d.components.schemas).filter((k) => k.endsWith('.input')), ['a_b.input', 'a_b_2.input', 'a_b_3.input']);
        assert.equal(d.paths['/tools/a%2Fb']!.post.operationId, 'aB3');
        assert.equal(d.paths['/tools/a%2Fb']!.post['x-mcp-tool'], 'a/b');
      },
    },
    {
      name: 'operationIds are identifiers that camel-casing generators keep, one per tool, however the names are spelled',
      tools: [{ name: 'everything__get_env' }, { name: 'everything_get-env' }, { name: 'everything.get.env' }, { name: 'everythingGetEnv' }, { name: '3d-render' }, { name: 'echo' }],
      check: (d) => {
        const ids = Object.values(d.paths).map((item) => item.post.operationId);
        assert.deepEqual(ids, ['everythingGetEnv', 'everythingGetEnv2', 'everythingGetEnv3', 'everythingGetEnv4', 'tool3dRender', 'echo']);
        for (const id of ids) assert.match(id, /^[a-z][A-Za-z0-9]*$/);
      },
    },
    {
      name: 'annotations as x-mcp-annotations; title from annotations when the tool has none',
      tools: [{ name: 'r', annotations: { title: 'Reader', readOnlyHint: true } }],
      check: (d) => {
        assert.deepEqual(d.paths['/tools/r']!.post['x-mcp-annotations'], { title: 'Reader', readOnlyHint: true });
        assert.equal(d.paths['/tools/r']!.post.summary, 'Reader');
      },
    },
  ];
  for (const { name, tools, check } of cases) {
    const d = doc(tools);
    check(d);
    await assertValidOpenApi(d, name);
  }
});

test('document: security and servers follow how and where the endpoint is served', async () => {
  const cases: Array<{ options: Partial<DocumentOptions>; schemes: string[]; servers: unknown }> = [
    { options: {}, schemes: [], servers: [{ url: '/' }] },
    { options: { origin: 'http://127.0.0.1:8080' }, schemes: [], servers: [{ url: 'http://127.0.0.1:8080' }] },
    { options: { protection: { kind: 'key' }, basePath: '/servers/fs' }, schemes: ['bearerKey', 'queryKey'], servers: [{ url: '/servers/fs' }] },
    {
      options: { protection: { kind: 'oauth', issuers: ['https://id.example'], metadataUrl: 'https://proxy.example/.well-known/oauth-protected-resource' } },
      schemes: ['oauth'], servers: [{ url: '/' }],
    },
  ];
  for (const { options, schemes, servers } of cases) {
    const d = doc([{ name: 'x' }], options);
    assert.deepEqual(Object.keys(d.components.securitySchemes), schemes);
    assert.equal(d.security.length, schemes.length);
    assert.deepEqual(d.servers, servers);
    assert.equal(d.paths['/tools/x']!.post.responses['401'] !== undefined, schemes.length > 0);
    await assertValidOpenApi(d, JSON.stringify(options));
  }
});

test('answer: a tools/call reply as an HTTP status and body', () => {
  const cases: Array<{ reply: Record<string, unknown>; status: number; body?: unknown; retryAfter?: boolean }> = [
    { reply: { result: { content: [{ type: 'text', text: 'hi' }] } }, status: 200, body: { content: [{ type: 'text', text: 'hi' }] } },
    { reply: { result: { content: [], structuredContent: { n: 1 } } }, status: 200, body: { n: 1 } },
    { reply: { result: {} }, status: 200, body: { content: [] } },
    { reply: { result: { isError: true, content: [{ type: 'text', text: 'bad' }, { type: 'image', data: 'AA==' }] } }, status: 422 },
    { reply: { error: { code: -32602, message: 'Invalid params' } }, status: 422 },
    { reply: { error: { code: -32000, message: 'request timed out after 1 s' } }, status: 504 },
    { reply: { error: { code: -32000, message: 'server exited (code 3)' } }, status: 503, retryAfter: true },
    { reply: { error: { code: -32603, message: 'boom' } }, status: 502 },
  ];
  for (const { reply, status, body, retryAfter } of cases) {
    const answer = answerOf({ jsonrpc: '2.0', id: 1, ...reply } as never);
    if (answer instanceof ProxyError) {
      assert.equal(answer.status, status, JSON.stringify(reply));
      assert.equal(answer.headers['retry-after'] !== undefined, retryAfter === true);
    } else {
      assert.equal(status, 200, JSON.stringify(reply));
      assert.deepEqual(answer.body, body);
    }
  }
  const toolError = answerOf({ jsonrpc: '2.0', id: 1, result: { isError: true, content: [{ type: 'text', text: 'bad' }, { type: 'text', text: 'worse' }] } }) as ProxyError;
  assert.equal(toolError.message, 'bad\nworse');
  assert.deepEqual(toolError.data, { content: [{ type: 'text', text: 'bad' }, { type: 'text', text: 'worse' }] });
});
