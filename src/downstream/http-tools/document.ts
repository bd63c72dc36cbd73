/**
 * An OpenAPI 3.1 document for a list of MCP tools: one `POST /tools/<name>` per tool. Pure: tools in,
 * document out; the facade serves it and reruns it whenever the list changes.
 *
 * Each tool's schemas become components (`<tool>.input`, `<tool>.output`). A schema's own local
 * `$ref`s (`#/$defs/X`, `#/definitions/X`, `#/properties/a`) point at the root of *that* schema, but
 * inside the document `#` is the document's root, so they are rewritten to point under the component.
 */
import { isObject, type JsonObject } from '../../protocol/message.ts';
import { securityOf, type Protection } from './security.ts';
import { ERROR_STATUSES } from './answer.ts';

export interface DocumentOptions {
  title: string;
  version: string;
  /** Where the operations live: '' for the root, '/servers/<name>' for one server's routes. */
  basePath: string;
  /** Scheme, host and port clients reach the proxy at, when known: generic clients need an absolute server URL. */
  origin?: string | undefined;
  protection: Protection;
}

/** Keywords whose values are data, not schemas: a `$ref` inside them is left alone. */
const DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'examples', 'example']);
const COMPONENT_KEY = /[^A-Za-z0-9._-]/g;

/** The document for `tools` (items of a `tools/list` result; anything that is not a named tool is skipped). */
export function buildDocument(tools: unknown[], options: DocumentOptions): JsonObject {
  const { schemes, security } = securityOf(options.protection);
  const schemas: JsonObject = { ...SHARED_SCHEMAS };
  const paths: JsonObject = {};
  const used = new Set<string>();
  const usedIds = new Set<string>();
  for (const tool of tools) {
    if (!isObject(tool) || typeof tool.name !== 'string' || tool.name === '') continue;
    const key = uniqueKey(tool.name.replace(COMPONENT_KEY, '_'), used, '_');
    const operationId = uniqueKey(operationIdOf(tool.name), usedIds, '');
    const input = isObject(tool.inputSchema) ? tool.inputSchema : { type: 'object' };
    schemas[`${key}.input`] = componentSchema(input, `${key}.input`);
    const hasOutput = isObject(tool.outputSchema);
    if (hasOutput) schemas[`${key}.output`] = componentSchema(tool.outputSchema as JsonObject, `${key}.output`);
    paths[`/tools/${encodeURIComponent(tool.name)}`] = { post: operation(tool, key, operationId, hasOutput, options.protection.kind !== 'none') };
  }
  const responses = Object.fromEntries(Object.entries(ERROR_STATUSES).map(([status, description]) => [`E${status}`, {
    description,
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    ...(status === '503' ? { headers: { 'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'integer' } } } } : {}),
  }]));
  return {
    openapi: '3.1.0',
    info: { title: options.title, version: options.version, description: 'MCP tools as plain HTTP operations, served by mcpproxy.' },
    // Always a server: clients given no `servers` (openapi-client-axios, generators) have no URL to call.
    servers: [{ url: `${options.origin ?? ''}${options.basePath}` || '/' }],
    paths,
    components: { schemas, responses, securitySchemes: schemes },
    security,
  };
}

function operation(tool: JsonObject, key: string, operationId: string, hasOutput: boolean, isProtected: boolean): JsonObject {
  const annotations = isObject(tool.annotations) ? tool.annotations : undefined;
  const title = typeof tool.title === 'string' ? tool.title : typeof annotations?.title === 'string' ? annotations.title : undefined;
  const input = tool.inputSchema;
  const hasRequired = isObject(input) && Array.isArray(input.required) && input.required.length > 0;
  const errors = Object.keys(ERROR_STATUSES).filter((status) => isProtected || status !== '401');
  return {
    operationId,
    'x-mcp-tool': tool.name,
    ...(title === undefined ? {} : { summary: title }),
    ...(typeof tool.description === 'string' ? { description: tool.description } : {}),
    requestBody: {
      required: hasRequired,
      content: { 'application/json': { schema: { $ref: `#/components/schemas/${key}.input` } } },
    },
    responses: {
      200: {
        description: `${hasOutput ? "The tool's structuredContent" : "The tool's content blocks"}; with \`Accept: text/event-stream\`, \`progress\` events then one \`result\` or \`error\` event.`,
        content: {
          'application/json': { schema: { $ref: hasOutput ? `#/components/schemas/${key}.output` : '#/components/schemas/ToolContent' } },
          'text/event-stream': { schema: { type: 'string' } },
        },
      },
      ...Object.fromEntries(errors.map((status) => [status, { $ref: `#/components/responses/E${status}` }])),
    },
    ...(annotations === undefined ? {} : { 'x-mcp-annotations': annotations }),
  };
}

/** A copy of `schema` whose local `$ref`s point under `#/components/schemas/<key>`. */
function componentSchema(schema: JsonObject, key: string): JsonObject {
  const { $schema: _dialect, ...rest } = schema; // the document's dialect (2020-12, MCP's default) applies
  return rebase(rest, `#/components/schemas/${key}`) as JsonObject;
}

function rebase(value: unknown, root: string): unknown {
  if (Array.isArray(value)) return value.map((item) => rebase(item, root));
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [name, item] of Object.entries(value)) {
    if (name === '$ref' && typeof item === 'string' && item.startsWith('#')) out[name] = root + item.slice(1);
    else out[name] = DATA_KEYWORDS.has(name) ? item : rebase(item, root);
  }
  return out;
}

/**
 * A tool name as the identifier code generators would make of it anyway (camelCase over its letters and
 * digits): they camel-case `everything__get_env` and `everything_get-env` alike, so an id with `__`, `-`
 * or `.` in it collapsed two tools into one generated method. Already in that form, it is kept as is,
 * and buildDocument numbers a repeat. The tool's own name is in `x-mcp-tool`.
 */
export function operationIdOf(name: string): string {
  const words = name.split(/[^A-Za-z0-9]+/).filter((word) => word !== '');
  const id = words.map((word, i) => (i === 0 ? word[0]!.toLowerCase() : word[0]!.toUpperCase()) + word.slice(1)).join('');
  return /^[A-Za-z]/.test(id) ? id : `tool${id.charAt(0).toUpperCase()}${id.slice(1)}`;
}

function uniqueKey(base: string, used: Set<string>, separator: string): string {
  let key = base;
  for (let n = 2; used.has(key); n++) key = `${base}${separator}${n}`;
  used.add(key);
  return key;
}

/** MCP content blocks (text, image, audio, resource_link, resource); binary data is base64 in `data` or `resource.blob`. */
const SHARED_SCHEMAS: JsonObject = {
  ContentBlock: {
    type: 'object',
    required: ['type'],
    properties: {
      type: { type: 'string', enum: ['text', 'image', 'audio', 'resource_link', 'resource'] },
      text: { type: 'string' },
      data: { type: 'string', contentEncoding: 'base64' },
      mimeType: { type: 'string' },
      uri: { type: 'string' },
      resource: { type: 'object' },
    },
  },
  ToolContent: {
    type: 'object',
    required: ['content'],
    properties: { content: { type: 'array', items: { $ref: '#/components/schemas/ContentBlock' } } },
  },
  Error: {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          code: { type: 'integer', description: 'The JSON-RPC error code.' },
          message: { type: 'string' },
          data: { description: 'For a tool error (422): `{ content }`, the blocks the tool returned.' },
        },
      },
    },
  },
};
