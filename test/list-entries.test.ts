// List entries held to the shape clients parse: each broken shape repaired or dropped, and what comes
// out parses with the SDK 1.32 client's own schemas (the ones that refused the whole list before).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ListPromptsResultSchema, ListResourcesResultSchema, ListResourceTemplatesResultSchema, ListToolsResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { checkEntries, type EntryKind } from '../src/servers/list-entries.ts';

const SCHEMAS = { tools: ListToolsResultSchema, prompts: ListPromptsResultSchema, resources: ListResourcesResultSchema, resourceTemplates: ListResourceTemplatesResultSchema };
const SCHEMA = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] };

interface Case {
  kind: EntryKind;
  what: string;
  entry: unknown;
  /** The entry as it comes out; undefined: dropped. */
  out: unknown;
  reason?: string;
  /** The SDK takes the entry as it is (the check is the proxy's own need, not the client's). */
  isSdkFine?: true;
}

const CASES: Case[] = [
  { kind: 'tools', what: 'a valid tool is kept as it is', entry: { name: 't', description: 'd', inputSchema: SCHEMA }, out: { name: 't', description: 'd', inputSchema: SCHEMA } },
  { kind: 'tools', what: 'inputSchema missing', entry: { name: 't' }, out: { name: 't', inputSchema: { type: 'object' } }, reason: 'inputSchema missing' },
  { kind: 'tools', what: 'inputSchema a string', entry: { name: 't', inputSchema: '{"type":"object"}' }, out: undefined, reason: 'inputSchema is not an object' },
  { kind: 'tools', what: 'inputSchema an array', entry: { name: 't', inputSchema: [] }, out: undefined, reason: 'inputSchema is not an object' },
  { kind: 'tools', what: 'inputSchema of another type', entry: { name: 't', inputSchema: { type: 'string' } }, out: undefined, reason: 'inputSchema is not an object schema' },
  { kind: 'tools', what: 'inputSchema without a type', entry: { name: 't', inputSchema: { properties: { a: { type: 'string' } } } }, out: { name: 't', inputSchema: { type: 'object', properties: { a: { type: 'string' } } } }, reason: 'inputSchema needed repair (type, boolean property schemas)' },
  { kind: 'tools', what: 'boolean property schemas', entry: { name: 't', inputSchema: { type: 'object', properties: { any: true, none: false } } }, out: { name: 't', inputSchema: { type: 'object', properties: { any: {}, none: { not: {} } } } }, reason: 'inputSchema needed repair (type, boolean property schemas)' },
  { kind: 'tools', what: 'a property schema a string', entry: { name: 't', inputSchema: { type: 'object', properties: { a: 'string' } } }, out: undefined, reason: 'inputSchema is not an object schema' },
  { kind: 'tools', what: 'required not a list of names', entry: { name: 't', inputSchema: { type: 'object', required: 'a' } }, out: undefined, reason: 'inputSchema is not an object schema' },
  { kind: 'tools', what: 'description a number', entry: { name: 't', description: 42, inputSchema: SCHEMA }, out: { name: 't', inputSchema: SCHEMA }, reason: 'description is not a string' },
  { kind: 'tools', what: 'title an object', entry: { name: 't', title: {}, inputSchema: SCHEMA }, out: { name: 't', inputSchema: SCHEMA }, reason: 'title is not a string' },
  { kind: 'tools', what: 'name a number', entry: { name: 7, inputSchema: SCHEMA }, out: undefined, reason: 'name is not a string' },
  { kind: 'tools', what: 'name empty', entry: { name: '', inputSchema: SCHEMA }, out: undefined, reason: 'name is not a string', isSdkFine: true },
  { kind: 'tools', what: 'not an object', entry: 'tool', out: undefined, reason: 'not an object' },
  { kind: 'tools', what: 'annotations a string', entry: { name: 't', inputSchema: SCHEMA, annotations: 'readOnly' }, out: { name: 't', inputSchema: SCHEMA }, reason: 'annotations is not an object' },
  { kind: 'tools', what: 'a hint of the wrong type falls back to its default', entry: { name: 't', inputSchema: SCHEMA, annotations: { readOnlyHint: 'yes', destructiveHint: false } }, out: { name: 't', inputSchema: SCHEMA, annotations: { destructiveHint: false } }, reason: 'an annotation has the wrong type' },
  { kind: 'tools', what: 'outputSchema a string', entry: { name: 't', inputSchema: SCHEMA, outputSchema: 'x' }, out: { name: 't', inputSchema: SCHEMA }, reason: 'outputSchema is not an object schema' },
  { kind: 'tools', what: 'outputSchema of type array', entry: { name: 't', inputSchema: SCHEMA, outputSchema: { type: 'array' } }, out: { name: 't', inputSchema: SCHEMA }, reason: 'outputSchema is not an object schema' },
  { kind: 'tools', what: 'execution with an unknown taskSupport', entry: { name: 't', inputSchema: SCHEMA, execution: { taskSupport: 'always' } }, out: { name: 't', inputSchema: SCHEMA }, reason: 'execution malformed' },
  { kind: 'tools', what: 'icons without src', entry: { name: 't', inputSchema: SCHEMA, icons: [{ href: 'x' }] }, out: { name: 't', inputSchema: SCHEMA }, reason: 'icons malformed' },
  { kind: 'tools', what: '_meta a list', entry: { name: 't', inputSchema: SCHEMA, _meta: [] }, out: { name: 't', inputSchema: SCHEMA }, reason: '_meta is not an object' },
  { kind: 'prompts', what: 'a valid prompt', entry: { name: 'p', arguments: [{ name: 'a', required: true }] }, out: { name: 'p', arguments: [{ name: 'a', required: true }] } },
  { kind: 'prompts', what: 'arguments an object', entry: { name: 'p', arguments: { a: {} } }, out: undefined, reason: 'arguments is not a list' },
  { kind: 'prompts', what: 'an argument without a name', entry: { name: 'p', arguments: [{ description: 'a' }] }, out: undefined, reason: 'an argument has no name' },
  { kind: 'prompts', what: 'required a string', entry: { name: 'p', arguments: [{ name: 'a', required: 'yes', description: 3 }] }, out: { name: 'p', arguments: [{ name: 'a' }] }, reason: 'an argument\'s description or required has the wrong type' },
  { kind: 'prompts', what: 'description a number', entry: { name: 'p', description: 1 }, out: { name: 'p' }, reason: 'description is not a string' },
  { kind: 'resources', what: 'a valid resource', entry: { uri: 'x://a', name: 'a', size: 3 }, out: { uri: 'x://a', name: 'a', size: 3 } },
  { kind: 'resources', what: 'name missing', entry: { uri: 'x://a' }, out: { uri: 'x://a', name: 'x://a' }, reason: 'name is not a string, the URI given instead' },
  { kind: 'resources', what: 'uri missing', entry: { name: 'a' }, out: undefined, reason: 'uri is not a string' },
  { kind: 'resources', what: 'size a string', entry: { uri: 'x://a', name: 'a', size: '3' }, out: { uri: 'x://a', name: 'a' }, reason: 'size is not a number' },
  { kind: 'resources', what: 'lastModified not a date-time', entry: { uri: 'x://a', name: 'a', annotations: { lastModified: 'yesterday' } }, out: { uri: 'x://a', name: 'a' }, reason: 'annotations malformed' },
  { kind: 'resources', what: 'priority out of range', entry: { uri: 'x://a', name: 'a', annotations: { priority: 2 } }, out: { uri: 'x://a', name: 'a' }, reason: 'annotations malformed' },
  { kind: 'resources', what: 'valid annotations kept', entry: { uri: 'x://a', name: 'a', annotations: { audience: ['user'], priority: 0.5, lastModified: '2025-01-12T15:00:58Z' } }, out: { uri: 'x://a', name: 'a', annotations: { audience: ['user'], priority: 0.5, lastModified: '2025-01-12T15:00:58Z' } } },
  { kind: 'resources', what: 'mimeType a number', entry: { uri: 'x://a', name: 'a', mimeType: 1 }, out: { uri: 'x://a', name: 'a' }, reason: 'mimeType is not a string' },
  { kind: 'resourceTemplates', what: 'name missing', entry: { uriTemplate: 'x://{id}' }, out: { uriTemplate: 'x://{id}', name: 'x://{id}' }, reason: 'name is not a string, the URI given instead' },
  { kind: 'resourceTemplates', what: 'uriTemplate a number', entry: { uriTemplate: 5, name: 'n' }, out: undefined, reason: 'uriTemplate is not a string' },
];

for (const c of CASES) {
  test(`list entries, ${c.kind}: ${c.what}`, () => {
    const before = structuredClone(c.entry);
    const { items, problems } = checkEntries(c.kind, [c.entry]);
    assert.deepEqual(items, c.out === undefined ? [] : [c.out]);
    assert.deepEqual(problems.map((p) => p.reason), c.reason === undefined ? [] : [c.reason]);
    assert.deepEqual(problems.map((p) => p.action), c.reason === undefined ? [] : [c.out === undefined ? 'dropped' : 'repaired']);
    assert.deepEqual(c.entry, before, 'the server\'s own object is left as it was');
    const parsed = SCHEMAS[c.kind].safeParse({ [c.kind]: items });
    assert.ok(parsed.success, `the SDK 1.32 client takes it: ${parsed.error?.message}`);
    // Each broken case is a real break: as the server sent it, the SDK refuses the whole list.
    assert.equal(SCHEMAS[c.kind].safeParse({ [c.kind]: [c.entry] }).success, c.reason === undefined || c.isSdkFine === true, 'the SDK on the entry as sent');
  });
}

test('list entries: a valid entry is the same object (no copy), the broken ones around it do not move it', () => {
  const good = { name: 'g', inputSchema: SCHEMA };
  const { items, problems } = checkEntries('tools', [{ name: 1 }, good, { name: 'b', inputSchema: 'x' }]);
  assert.equal(items.length, 1);
  assert.equal(items[0], good);
  assert.deepEqual(problems.map((p) => [p.name, p.action]), [[undefined, 'dropped'], ['b', 'dropped']]);
});
