/**
 * Two versions of one definition as readable changes, each marked with the `block-risky` rule it
 * trips, if any: a new definition, gained hidden characters, gained instruction text (`text-rules.ts`)
 * in the title, description or an argument's description, widened arguments (`schema-rules.ts`), or a
 * tool hint moved to its less cautious side. Everything else that changed is shown and not risky. Pure.
 */
import { canonicalJson, PINNED_FIELDS, pinnedForm, type DefinitionKind } from './canonical.ts';
import { findHidden, visible, type HiddenChar } from './hidden.ts';
import { compareSchemas, inputSchemaOf } from './schema-rules.ts';
import { gainedFindings } from './text-rules.ts';
import { isObject, type JsonObject } from '../protocol/message.ts';

export interface PinChange {
  /** The pinned field, or an argument's path (`inputSchema.notes`). */
  field: string;
  text: string;
  /** The rule it trips (`new-argument`, `url`, `hidden-unicode`…); undefined: a change that adds no risk. */
  risk: string | undefined;
}

/** Each hint's cautious value (the spec's defaults for a tool that declares none are the risky side). */
const CAUTIOUS_HINTS: Record<string, boolean> = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
const INPUT_FIELD: Record<DefinitionKind, string> = { tools: 'inputSchema', prompts: 'arguments', resourceTemplates: 'uriTemplate' };
const SHOWN_CHARS = 160;

/** Hidden characters anywhere in the pinned fields (names, descriptions, property names, enum values). */
export function hiddenIn(kind: DefinitionKind, definition: JsonObject): HiddenChar[] {
  return findHidden(JSON.stringify(pinnedForm(kind, definition)));
}

function shown(value: unknown): string {
  const text = value === undefined ? '(none)' : typeof value === 'string' ? JSON.stringify(value) : canonicalJson(value);
  const cut = text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}…` : text;
  return visible(cut);
}

function textChanges(field: string, before: string | undefined, after: string): PinChange[] {
  return gainedFindings(before, after).map(({ rule, match }) => ({ field, text: `${field} gained ${rule}: ${visible(match)}`, risk: rule }));
}

function hintChanges(before: unknown, after: unknown): PinChange[] {
  const [was, now] = [isObject(before) ? before : {}, isObject(after) ? after : {}];
  return Object.entries(CAUTIOUS_HINTS)
    .filter(([hint, cautious]) => was[hint] === cautious && now[hint] !== cautious)
    .map(([hint]) => ({ field: `annotations.${hint}`, text: `${hint} no longer ${String(CAUTIOUS_HINTS[hint])}`, risk: 'hint-weakened' }));
}

/** What changed from `before` (undefined: not seen before) to `after`; empty when the pinned fields are equal. */
export function diffDefinitions(kind: DefinitionKind, before: JsonObject | undefined, after: JsonObject): PinChange[] {
  const changes: PinChange[] = [];
  const hidden = hiddenIn(kind, after);
  if (hidden.length > 0) changes.push({ field: 'definition', text: `hidden characters: ${hidden.map((h) => `${h.codePoint} (${h.class})`).join(', ')}`, risk: 'hidden-unicode' });
  if (before === undefined) return [{ field: 'name', text: `new: ${shown(after.name ?? after.uriTemplate)}`, risk: 'new-definition' }, ...changes];
  for (const field of PINNED_FIELDS[kind]) {
    if (canonicalJson(before[field]) === canonicalJson(after[field])) continue;
    changes.push({ field, text: `${field}: ${shown(before[field])} → ${shown(after[field])}`, risk: undefined });
    if ((field === 'title' || field === 'description') && typeof after[field] === 'string') {
      changes.push(...textChanges(field, typeof before[field] === 'string' ? before[field] : undefined, after[field]));
    }
    if (field === 'annotations' && kind === 'tools') changes.push(...hintChanges(before[field], after[field]));
    if (field === INPUT_FIELD[kind]) {
      const { findings, descriptions } = compareSchemas(inputSchemaOf(kind, before), inputSchemaOf(kind, after));
      changes.push(...findings.map(({ rule, text }) => ({ field, text, risk: rule })));
      for (const { path, before: was, after: now } of descriptions) changes.push(...textChanges(`${field}.${path}`, was, now));
    }
  }
  return changes;
}

/** True when some change trips a `block-risky` rule. */
export function isRisky(changes: readonly PinChange[]): boolean {
  return changes.some(({ risk }) => risk !== undefined);
}
