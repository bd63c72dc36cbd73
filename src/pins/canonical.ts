/**
 * The fields that say what a tool, prompt or resource template does: what hidden characters are looked
 * for in (and what a pin will cover). Anything else a server adds (`_meta`, `icons`, `execution`…) is
 * left out. Pure.
 */
import type { JsonObject } from '../protocol/message.ts';

export type DefinitionKind = 'tools' | 'prompts' | 'resourceTemplates';

/** The fields per kind: a prompt's input is its `arguments`, a template's its `uriTemplate`. */
const PINNED_FIELDS: Record<DefinitionKind, readonly string[]> = {
  tools: ['name', 'title', 'description', 'inputSchema', 'outputSchema', 'annotations'],
  prompts: ['name', 'title', 'description', 'arguments'],
  resourceTemplates: ['name', 'title', 'description', 'uriTemplate', 'mimeType', 'annotations'],
};

/** Just the pinned fields of a definition (absent ones stay absent). */
export function pinnedForm(kind: DefinitionKind, definition: JsonObject): JsonObject {
  const form: JsonObject = {};
  for (const field of PINNED_FIELDS[kind]) if (definition[field] !== undefined) form[field] = definition[field];
  return form;
}
