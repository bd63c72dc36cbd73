/**
 * The entries of a list answer (tools, prompts, resources, resource templates) held to the shape the
 * SDK clients parse them with (MCP schema 2025-11-25): one entry that breaks it makes a client refuse the
 * whole list. What can be repaired without changing what a call means is repaired — a missing
 * inputSchema becomes `{ type: "object" }` (the 2024 spec's "takes no declared arguments"), a missing
 * resource name becomes its URI, an optional field of the wrong type is taken out (a tool hint taken
 * out falls back to its most cautious default). What the proxy cannot know is dropped: an entry without
 * its name or URI, an input schema or prompt arguments of the wrong shape. Pure: entries in, entries out.
 */
import { isObject, type JsonObject } from '../protocol/message.ts';

export type EntryKind = 'tools' | 'prompts' | 'resources' | 'resourceTemplates';

export interface EntryProblem {
  /** One of a fixed set of phrases, so it can key a log-once set. */
  reason: string;
  action: 'repaired' | 'dropped';
  /** The entry's name or URI as the server sent it, cut to 100 characters; undefined when it had none. */
  name: string | undefined;
}

const IDENTITY: Record<EntryKind, string> = { tools: 'name', prompts: 'name', resources: 'uri', resourceTemplates: 'uriTemplate' };
const OPTIONAL_STRINGS: Record<EntryKind, string[]> = {
  tools: ['title', 'description'],
  prompts: ['title', 'description'],
  resources: ['title', 'description', 'mimeType'],
  resourceTemplates: ['title', 'description', 'mimeType'],
};
const TOOL_HINTS = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'];
const TASK_SUPPORT = new Set(['required', 'optional', 'forbidden']);
const AUDIENCE = new Set(['user', 'assistant']);
/** RFC 3339 date-time with an offset, as the SDK's `z.iso.datetime({ offset: true })` wants. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** A copy-on-write view of one entry: repairs touch a copy, the server's object stays as it was. */
class Entry {
  value: JsonObject;
  #original: JsonObject;
  problems: EntryProblem[] = [];
  #name: string | undefined;

  constructor(value: JsonObject, name: string | undefined) {
    this.value = value;
    this.#original = value;
    this.#name = name;
  }

  repair(reason: string, change: (entry: JsonObject) => void): void {
    if (this.value === this.#original) this.value = { ...this.#original };
    change(this.value);
    this.problems.push({ reason, action: 'repaired', name: this.#name });
  }

  drop(reason: string): undefined {
    this.problems.push({ reason, action: 'dropped', name: this.#name });
    return undefined;
  }
}

/** The entries of a `kind` list as a client may take them, and what was repaired or dropped on the way. */
export function checkEntries(kind: EntryKind, items: readonly unknown[]): { items: JsonObject[]; problems: EntryProblem[] } {
  const kept: JsonObject[] = [];
  const problems: EntryProblem[] = [];
  for (const item of items) {
    if (!isObject(item)) {
      problems.push({ reason: 'not an object', action: 'dropped', name: undefined });
      continue;
    }
    const id = item[IDENTITY[kind]];
    const entry = new Entry(item, typeof id === 'string' ? id.slice(0, 100) : undefined);
    const checked = typeof id === 'string' && id !== '' ? checkEntry(kind, entry) : entry.drop(`${IDENTITY[kind]} is not a string`);
    problems.push(...entry.problems);
    if (checked !== undefined) kept.push(checked);
  }
  return { items: kept, problems };
}

function checkEntry(kind: EntryKind, entry: Entry): JsonObject | undefined {
  for (const field of OPTIONAL_STRINGS[kind]) {
    if (entry.value[field] !== undefined && typeof entry.value[field] !== 'string') entry.repair(`${field} is not a string`, (e) => delete e[field]);
  }
  if (entry.value._meta !== undefined && !isObject(entry.value._meta)) entry.repair('_meta is not an object', (e) => delete e._meta);
  if (entry.value.icons !== undefined && !isIconList(entry.value.icons)) entry.repair('icons malformed', (e) => delete e.icons);
  if (kind === 'tools') return checkTool(entry);
  if (kind === 'prompts') return checkPrompt(entry);
  if (typeof entry.value.name !== 'string') entry.repair('name is not a string, the URI given instead', (e) => { e.name = e[IDENTITY[kind]]; });
  if (kind === 'resources' && entry.value.size !== undefined && !Number.isFinite(entry.value.size)) entry.repair('size is not a number', (e) => delete e.size);
  if (entry.value.annotations !== undefined && !isResourceAnnotations(entry.value.annotations)) entry.repair('annotations malformed', (e) => delete e.annotations);
  return entry.value;
}

function checkTool(entry: Entry): JsonObject | undefined {
  const input = entry.value.inputSchema;
  if (input === undefined) entry.repair('inputSchema missing', (e) => { e.inputSchema = { type: 'object' }; });
  else if (!isObject(input)) return entry.drop('inputSchema is not an object');
  else {
    const schema = objectSchema(input);
    if (schema === undefined) return entry.drop('inputSchema is not an object schema');
    if (schema !== input) entry.repair('inputSchema needed repair (type, boolean property schemas)', (e) => { e.inputSchema = schema; });
  }
  const output = entry.value.outputSchema;
  if (output !== undefined) {
    const schema = isObject(output) ? objectSchema(output) : undefined;
    // Without it a client just does not check structuredContent: taken out, never guessed.
    if (schema === undefined) entry.repair('outputSchema is not an object schema', (e) => delete e.outputSchema);
    else if (schema !== output) entry.repair('outputSchema needed repair (type, boolean property schemas)', (e) => { e.outputSchema = schema; });
  }
  const annotations = entry.value.annotations;
  if (annotations !== undefined && !isObject(annotations)) entry.repair('annotations is not an object', (e) => delete e.annotations);
  else if (isObject(annotations)) {
    const bad = TOOL_HINTS.filter((hint) => annotations[hint] !== undefined && typeof annotations[hint] !== 'boolean');
    if (annotations.title !== undefined && typeof annotations.title !== 'string') bad.push('title');
    if (bad.length > 0) {
      entry.repair('an annotation has the wrong type', (e) => {
        e.annotations = Object.fromEntries(Object.entries(annotations).filter(([key]) => !bad.includes(key)));
      });
    }
  }
  const execution = entry.value.execution;
  if (execution !== undefined && !(isObject(execution) && (execution.taskSupport === undefined || TASK_SUPPORT.has(execution.taskSupport as string)))) {
    entry.repair('execution malformed', (e) => delete e.execution);
  }
  return entry.value;
}

function checkPrompt(entry: Entry): JsonObject | undefined {
  const args = entry.value.arguments;
  if (args === undefined) return entry.value;
  if (!Array.isArray(args)) return entry.drop('arguments is not a list');
  if (!args.every((arg) => isObject(arg) && typeof arg.name === 'string')) return entry.drop('an argument has no name');
  const fixed = (args as JsonObject[]).map((arg) => {
    if ((arg.description === undefined || typeof arg.description === 'string') && (arg.required === undefined || typeof arg.required === 'boolean')) return arg;
    const copy = { ...arg };
    if (typeof copy.description !== 'string') delete copy.description;
    if (typeof copy.required !== 'boolean') delete copy.required;
    return copy;
  });
  if (fixed.some((arg, i) => arg !== args[i])) entry.repair('an argument\'s description or required has the wrong type', (e) => { e.arguments = fixed; });
  return entry.value;
}

/**
 * `schema` as an object schema the clients accept (`type: "object"`, `properties` a map of schemas,
 * `required` a list of names): the same object when it already is, a repaired copy (a missing type
 * set, boolean property schemas written as their object equivalents), or undefined when it cannot be.
 */
function objectSchema(schema: JsonObject): JsonObject | undefined {
  if (schema.type !== undefined && schema.type !== 'object') return undefined;
  const { properties, required } = schema;
  if (required !== undefined && !(Array.isArray(required) && required.every((name) => typeof name === 'string'))) return undefined;
  if (properties !== undefined && !isObject(properties)) return undefined;
  const values = properties === undefined ? [] : Object.values(properties);
  if (!values.every((value) => isObject(value) || typeof value === 'boolean')) return undefined;
  const hasBoolean = values.some((value) => typeof value === 'boolean');
  if (schema.type === 'object' && !hasBoolean) return schema;
  const copy: JsonObject = { ...schema, type: 'object' };
  if (hasBoolean) {
    // JSON Schema's `true` is `{}` (anything) and `false` is `{ not: {} }` (nothing): same meaning, object form.
    copy.properties = Object.fromEntries(Object.entries(properties as JsonObject).map(([key, value]) => [key, value === true ? {} : value === false ? { not: {} } : value]));
  }
  return copy;
}

function isIconList(icons: unknown): boolean {
  return Array.isArray(icons) && icons.every((icon) => isObject(icon) && typeof icon.src === 'string'
    && (icon.mimeType === undefined || typeof icon.mimeType === 'string')
    && (icon.sizes === undefined || (Array.isArray(icon.sizes) && icon.sizes.every((size) => typeof size === 'string')))
    && (icon.theme === undefined || icon.theme === 'light' || icon.theme === 'dark'));
}

function isResourceAnnotations(value: unknown): boolean {
  if (!isObject(value)) return false;
  const { audience, priority, lastModified } = value;
  return (audience === undefined || (Array.isArray(audience) && audience.every((role) => AUDIENCE.has(role as string))))
    && (priority === undefined || (typeof priority === 'number' && priority >= 0 && priority <= 1))
    && (lastModified === undefined || (typeof lastModified === 'string' && DATE_TIME.test(lastModified)));
}
