/**
 * Characters a reader does not see but a model reads: zero-width characters, bidirectional controls
 * (which reorder what is shown) and Unicode tag characters (U+E0000–E007F, an invisible copy of ASCII,
 * the "ASCII smuggling" carrier). Found anywhere in a name or description they are flagged, changed or
 * not. `visible()` writes them as `\u{…}` so a log line shows them. Pure.
 */
import type { JsonObject } from '../protocol/message.ts';
import { pinnedForm, type DefinitionKind } from './canonical.ts';
export type HiddenClass = 'zero-width' | 'bidi' | 'tag';

export interface HiddenChar {
  class: HiddenClass;
  /** `U+200B` style. */
  codePoint: string;
}

/** The members of each class, as regex set contents. */
const CLASSES: Record<HiddenClass, string> = {
  /** Soft hyphen, Mongolian vowel separator, ZWSP/ZWNJ/ZWJ, word joiner and invisible operators, BOM. */
  'zero-width': '\\u00AD\\u180E\\u200B-\\u200D\\u2060-\\u2064\\uFEFF',
  /** Arabic letter mark, LRM/RLM, embeddings and overrides (LRE…RLO), isolates (LRI…PDI). */
  bidi: '\\u061C\\u200E\\u200F\\u202A-\\u202E\\u2066-\\u2069',
  tag: '\\u{E0000}-\\u{E007F}',
};
const TESTS = Object.entries(CLASSES).map(([name, set]) => ({ name: name as HiddenClass, pattern: new RegExp(`[${set}]`, 'u') }));
const ANY = new RegExp(`[${Object.values(CLASSES).join('')}]`, 'gu');
const ANY_ONE = new RegExp(ANY.source, 'u');

function classOf(char: string): HiddenClass {
  return TESTS.find(({ pattern }) => pattern.test(char))!.name;
}

function codePointOf(char: string): string {
  return `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Each distinct hidden character in `text`, in order of first appearance. */
export function findHidden(text: string): HiddenChar[] {
  if (!ANY_ONE.test(text)) return []; // the common case, without building matches
  const seen = new Map<string, HiddenChar>();
  for (const [char] of text.matchAll(ANY)) if (!seen.has(char)) seen.set(char, { class: classOf(char), codePoint: codePointOf(char) });
  return [...seen.values()];
}

/** `text` with every hidden character written out as `\u{200B}`. */
export function visible(text: string): string {
  return text.replace(ANY, (char) => `\\u{${char.codePointAt(0)!.toString(16).toUpperCase()}}`);
}

/** The hidden characters anywhere in a definition's pinned fields (names, descriptions, schemas, arguments). */
export function hiddenIn(kind: DefinitionKind, definition: JsonObject): HiddenChar[] {
  return findHidden(JSON.stringify(pinnedForm(kind, definition)));
}
