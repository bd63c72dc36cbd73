// Each class of hidden character found (and shown) wherever it sits in a definition's pinned fields.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findHidden, hiddenIn, visible } from '../src/pins/hidden.ts';

const TOOL = { name: 'add', description: 'Adds two numbers', inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] } };

const HIDDEN: { what: string; char: string; class: string; codePoint: string }[] = [
  { what: 'zero-width space', char: '\u200B', class: 'zero-width', codePoint: 'U+200B' },
  { what: 'zero-width joiner', char: '\u200D', class: 'zero-width', codePoint: 'U+200D' },
  { what: 'word joiner', char: '\u2060', class: 'zero-width', codePoint: 'U+2060' },
  { what: 'byte order mark', char: '\uFEFF', class: 'zero-width', codePoint: 'U+FEFF' },
  { what: 'soft hyphen', char: '\u00AD', class: 'zero-width', codePoint: 'U+00AD' },
  { what: 'right-to-left override', char: '\u202E', class: 'bidi', codePoint: 'U+202E' },
  { what: 'left-to-right isolate', char: '\u2066', class: 'bidi', codePoint: 'U+2066' },
  { what: 'right-to-left mark', char: '\u200F', class: 'bidi', codePoint: 'U+200F' },
  { what: 'tag letter A', char: '\u{E0041}', class: 'tag', codePoint: 'U+E0041' },
  { what: 'language tag', char: '\u{E0001}', class: 'tag', codePoint: 'U+E0001' },
  { what: 'cancel tag', char: '\u{E007F}', class: 'tag', codePoint: 'U+E007F' },
];

for (const { what, char, class: kind, codePoint } of HIDDEN) {
  test(`hidden: ${what} is found as ${kind} and shown`, () => {
    assert.deepEqual(findHidden(`add${char} numbers`), [{ class: kind, codePoint }]);
    assert.equal(visible(`a${char}b`), `a\\u{${char.codePointAt(0)!.toString(16).toUpperCase()}}b`);
    assert.deepEqual(hiddenIn('tools', { ...TOOL, description: `Adds${char}` }), [{ class: kind, codePoint }]);
  });
}

test('hidden characters are found in names, argument descriptions and prompt arguments too; plain text, accents and emoji are not', () => {
  assert.equal(hiddenIn('tools', { ...TOOL, name: 'ad\u200Bd' }).length, 1);
  assert.equal(hiddenIn('tools', { ...TOOL, inputSchema: { type: 'object', properties: { a: { type: 'number', description: 'x\u{E0041}' } } } }).length, 1);
  assert.equal(hiddenIn('prompts', { name: 'p', arguments: [{ name: 'x', description: '\u202Eevil' }] }).length, 1);
  assert.deepEqual(findHidden('Crée un résumé — 日本語 👍🏽 ✔︎'), []);
  assert.deepEqual(hiddenIn('tools', TOOL), []);
});
