/**
 * The argument rules of `block-risky`: a change that lets a call carry more than before. Compared on a
 * tool's input schema (top level, then each property both sides have, and array `items`, recursively),
 * a prompt's `arguments` and a template's URI variables, each read into one shape first. Flagged: a new
 * argument, a required one made optional, a type widened (a new type, or the type removed), an enum
 * grown or removed, `additionalProperties: false` relaxed. A property description's gained text goes
 * through the text rules. Narrowing (a new required argument, a type or enum shrunk) is never risky.
 *
 * Limits: `$ref`, `anyOf`/`oneOf`/`allOf`, `pattern`, `format` and length or range bounds are compared
 * as a plain change (shown, not risky); so is an output schema.
 */
import { canonicalJson, type DefinitionKind } from './canonical.ts';
import { isObject, type JsonObject } from '../protocol/message.ts';

export type SchemaRule = 'new-argument' | 'required-dropped' | 'type-widened' | 'enum-grown' | 'additional-allowed';

export interface SchemaFinding {
  rule: SchemaRule;
  /** Readable: "new argument `notes`". */
  text: string;
}

/** A description that changed inside the schema, for the text rules; `path` like `notes` or `opts.mode`. */
export interface DescriptionChange {
  path: string;
  before: string | undefined;
  after: string;
}

/** A prompt's arguments and a template's URI variables as the object schema a tool would declare. */
export function inputSchemaOf(kind: DefinitionKind, definition: JsonObject): JsonObject {
  if (kind === 'tools') return isObject(definition.inputSchema) ? definition.inputSchema : {};
  const properties: JsonObject = {};
  const required: string[] = [];
  if (kind === 'prompts' && Array.isArray(definition.arguments)) {
    for (const arg of definition.arguments) {
      if (!isObject(arg) || typeof arg.name !== 'string') continue;
      properties[arg.name] = { type: 'string', ...(typeof arg.description === 'string' ? { description: arg.description } : {}) };
      if (arg.required === true) required.push(arg.name);
    }
  }
  if (kind === 'resourceTemplates' && typeof definition.uriTemplate === 'string') {
    for (const [, list] of definition.uriTemplate.matchAll(/\{[+#./;?&]?([^}]*)\}/gu)) {
      for (const name of list!.split(',')) properties[name.replace(/[*]$|:\d+$/u, '')] = { type: 'string' };
    }
    required.push(...Object.keys(properties));
  }
  return { type: 'object', properties, required };
}

function typesOf(schema: JsonObject): Set<string> | undefined {
  if (typeof schema.type === 'string') return new Set([schema.type]);
  return Array.isArray(schema.type) ? new Set(schema.type.filter((t) => typeof t === 'string')) : undefined;
}

function objectField(schema: JsonObject, field: string): JsonObject {
  return isObject(schema[field]) ? schema[field] : {};
}

function requiredOf(schema: JsonObject): Set<string> {
  return new Set(Array.isArray(schema.required) ? schema.required.filter((name) => typeof name === 'string') : []);
}

/** What widened from `before` to `after`, and the descriptions that changed, below `path`. */
export function compareSchemas(before: JsonObject, after: JsonObject, path = '', found: { findings: SchemaFinding[]; descriptions: DescriptionChange[] } = { findings: [], descriptions: [] }): typeof found {
  const at = (name: string): string => (path === '' ? name : `${path}.${name}`);
  const where = path === '' ? '' : ` of \`${path}\``;
  const [typesBefore, typesAfter] = [typesOf(before), typesOf(after)];
  if (typesBefore !== undefined && (typesAfter === undefined || [...typesAfter].some((t) => !typesBefore.has(t)))) {
    found.findings.push({ rule: 'type-widened', text: `type${where} widened: ${[...typesBefore].join('|')} → ${typesAfter === undefined ? 'any' : [...typesAfter].join('|')}` });
  }
  if (Array.isArray(before.enum)) {
    const had = new Set(before.enum.map((value) => canonicalJson(value)));
    const grown = Array.isArray(after.enum) ? after.enum.map((value) => canonicalJson(value)).filter((value) => !had.has(value)) : ['(any value)'];
    if (grown.length > 0) found.findings.push({ rule: 'enum-grown', text: `enum${where} grown: + ${grown.join(', ').slice(0, 200)}` });
  }
  if (before.additionalProperties === false && after.additionalProperties !== false) {
    found.findings.push({ rule: 'additional-allowed', text: `arguments${where} not declared are now allowed` });
  }
  if (typeof after.description === 'string' && after.description !== before.description && path !== '') {
    found.descriptions.push({ path, before: typeof before.description === 'string' ? before.description : undefined, after: after.description });
  }
  const [propsBefore, propsAfter] = [objectField(before, 'properties'), objectField(after, 'properties')];
  const [requiredBefore, requiredAfter] = [requiredOf(before), requiredOf(after)];
  for (const [name, schema] of Object.entries(propsAfter)) {
    if (!isObject(schema)) continue;
    if (!(name in propsBefore)) {
      found.findings.push({ rule: 'new-argument', text: `new argument \`${at(name)}\`` });
      if (typeof schema.description === 'string') found.descriptions.push({ path: at(name), before: undefined, after: schema.description });
      continue;
    }
    if (requiredBefore.has(name) && !requiredAfter.has(name)) found.findings.push({ rule: 'required-dropped', text: `argument \`${at(name)}\` no longer required` });
    if (isObject(propsBefore[name])) compareSchemas(propsBefore[name], schema, at(name), found);
  }
  if (isObject(before.items) && isObject(after.items)) compareSchemas(before.items, after.items, at('[]'), found);
  return found;
}
