/**
 * A definition's fingerprint: SHA-256 (hex) over a canonical JSON form — object keys sorted at every
 * depth, arrays in their order, no whitespace — of the fields that say what a tool, prompt or resource
 * template does. Anything else a server adds (`_meta`, `icons`, `execution`…) is left out, so a change
 * there never counts as a change of the definition. Pure but for the hash.
 */
import { createHash } from 'node:crypto';
import { isObject, type JsonObject } from '../protocol/message.ts';

export type DefinitionKind = 'tools' | 'prompts' | 'resourceTemplates';

/** The fields pinned per kind: a prompt's input is its `arguments`, a template's its `uriTemplate`. */
export const PINNED_FIELDS: Record<DefinitionKind, readonly string[]> = {
  tools: ['name', 'title', 'description', 'inputSchema', 'outputSchema', 'annotations'],
  prompts: ['name', 'title', 'description', 'arguments'],
  resourceTemplates: ['name', 'title', 'description', 'uriTemplate', 'mimeType', 'annotations'],
};

/** JSON with object keys sorted at every depth: equal values give equal text whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).filter((key) => value[key] !== undefined).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Just the pinned fields of a definition (absent ones stay absent). */
export function pinnedForm(kind: DefinitionKind, definition: JsonObject): JsonObject {
  const form: JsonObject = {};
  for (const field of PINNED_FIELDS[kind]) if (definition[field] !== undefined) form[field] = definition[field];
  return form;
}

export function fingerprint(kind: DefinitionKind, definition: JsonObject): string {
  return createHash('sha256').update(canonicalJson(pinnedForm(kind, definition))).digest('hex');
}
