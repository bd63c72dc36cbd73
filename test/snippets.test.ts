// Client configuration snippets: each parses as its client's format, carries the route's URL and never a key.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import ts from 'typescript';
import { parseCommandLine } from '../src/cli.ts';
import { splitShellWords } from '../src/config/shell-words.ts';
import { CLIENTS, snippet, snippets } from '../src/front/console/snippets.ts';

const BASE = 'https://mcp.example.com/prefix';

function printConfig(args: string[]): { code: number | undefined; out: string; err: string } {
  let out = '', err = '';
  const outcome = parseCommandLine(['print-config', ...args], {}, (text) => { out += text; }, (text) => { err += text; });
  return { code: outcome.kind === 'exit' ? outcome.code : undefined, out, err };
}

test('JSON snippets parse as each client\'s file', () => {
  const byClient = Object.fromEntries(snippets({ baseUrl: `${BASE}/`, server: 'github', hasKey: true }).map((s) => [s.client, s]));
  const url = `${BASE}/servers/github/mcp`;
  const cursor = JSON.parse(byClient.cursor!.text);
  assert.deepEqual(cursor, { mcpServers: { github: { url, headers: { Authorization: 'Bearer ${env:MCPPROXY_KEY}' } } } });
  const vscode = JSON.parse(byClient.vscode!.text);
  assert.equal(vscode.servers.github.type, 'http');
  assert.equal(vscode.servers.github.url, url);
  assert.equal(vscode.servers.github.headers.Authorization, 'Bearer ${input:mcpproxy-key}');
  assert.deepEqual(vscode.inputs.map((i: { id: string; password: boolean }) => [i.id, i.password]), [['mcpproxy-key', true]]);
  const desktop = JSON.parse(byClient['claude-desktop']!.text).mcpServers.github;
  assert.equal(desktop.command, 'npx');
  assert.deepEqual(desktop.args, ['-y', 'mcp-remote', url, '--header', 'Authorization:${AUTH_HEADER}']);
  assert.equal(desktop.env.AUTH_HEADER, 'Bearer <MCPPROXY_KEY>');
});

test('the shell, Python and TypeScript snippets parse, and name the aggregate route by default', () => {
  const opts = { baseUrl: 'http://10.0.0.5:8000', hasKey: true };
  const words = splitShellWords(snippet('claude-code', opts).text);
  assert.deepEqual(words, ['claude', 'mcp', 'add', '--transport', 'http', 'mcpproxy', 'http://10.0.0.5:8000/mcp', '--header', 'Authorization: Bearer $MCPPROXY_KEY']);
  assert.ok(JSON.parse(snippet('claude-desktop', opts).text).mcpServers.mcpproxy.args.includes('--allow-http'), 'mcp-remote refuses plain http elsewhere than localhost');
  const python = spawnSync('python3', ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], { input: snippet('python', opts).text });
  assert.equal(python.status, 0, python.stderr?.toString());
  const source = ts.createSourceFile('client.ts', snippet('typescript', opts).text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  assert.deepEqual((source as unknown as { parseDiagnostics: unknown[] }).parseDiagnostics, []);
  assert.ok(snippet('typescript', opts).text.includes('"http://10.0.0.5:8000/mcp"'));
});

test('no key, no header; a key is never in any snippet', () => {
  for (const client of CLIENTS) {
    const text = snippet(client, { baseUrl: 'http://127.0.0.1:8000', hasKey: false }).text;
    assert.ok(!/Authorization/i.test(text), `${client} has no Authorization without a key`);
  }
  const texts = snippets({ baseUrl: 'http://127.0.0.1:8000', hasKey: true }).map((s) => s.text);
  assert.ok(texts.every((text) => /MCPPROXY_KEY|mcpproxy-key/.test(text)), 'each snippet points at where the key comes from');
});

test('print-config prints the same snippet; bad input is exit 2 with one line', () => {
  const printed = printConfig(['--client', 'cursor', '--url', BASE, '--server', 'fs']);
  assert.equal(printed.code, 0);
  assert.equal(printed.out, `${snippet('cursor', { baseUrl: BASE, server: 'fs', hasKey: true }).text}\n`);
  assert.equal(printConfig(['--client', 'claude-code', '--no-key']).out, 'claude mcp add --transport http mcpproxy http://127.0.0.1:8000/mcp\n');
  for (const bad of [['--client', 'emacs'], [], ['--client', 'vscode', '--url', 'ftp://x'], ['--client', 'vscode', '--server', 'Bad Name']]) {
    const result = printConfig(bad);
    assert.equal(result.code, 2, bad.join(' '));
    assert.match(result.err, /^mcpproxy: .+\n$/);
  }
});
