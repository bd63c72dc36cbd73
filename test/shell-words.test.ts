// MCP_SERVER_CONFIG is split like POSIX shell words, nothing expanded (src/shell-words.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitShellWords } from '../src/config/shell-words.ts';

const CASES: Array<[string, string[]]> = [
  ['npx -y @modelcontextprotocol/server-everything', ['npx', '-y', '@modelcontextprotocol/server-everything']],
  ['  lead   and\ttabs\n and newlines  ', ['lead', 'and', 'tabs', 'and', 'newlines']],
  ['', []],
  ['   ', []],
  [`'single quoted' "double quoted"`, ['single quoted', 'double quoted']],
  [`a'b c'd`, ['ab cd']],
  [`""`, ['']],
  [`'' x`, ['', 'x']],
  [`a "" b`, ['a', '', 'b']],
  [`'$HOME and \\ stay' "$HOME stays"`, ['$HOME and \\ stay', '$HOME stays']],
  [`"escaped \\" quote" "back\\\\slash" "keep \\n"`, ['escaped " quote', 'back\\slash', 'keep \\n']],
  [`"\\$x \\\`y\\\`"`, ['$x `y`']],
  [`plain\\ space back\\\\slash \\'q`, ['plain space', 'back\\slash', "'q"]],
  [`it"'"s`, ["it's"]],
  [`--root="/tmp/a b" --name='x y'`, ['--root=/tmp/a b', '--name=x y']],
  ['no; pipes | or && globs *', ['no;', 'pipes', '|', 'or', '&&', 'globs', '*']],
  ['émoji 😀 ok', ['émoji', '😀', 'ok']],
  ['trailing\\', ['trailing']],
];

test('shell words', () => {
  for (const [line, words] of CASES) assert.deepEqual(splitShellWords(line), words, line);
});

test('an unterminated quote is an error naming the quote', () => {
  assert.throws(() => splitShellWords(`npx "server`), /unterminated " quote/);
  assert.throws(() => splitShellWords(`npx 'server`), /unterminated ' quote/);
  assert.throws(() => splitShellWords(`"a\\"`), /unterminated " quote/);
});
