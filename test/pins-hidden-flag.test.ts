// Hidden characters in what a server lists are flagged on every route: one warn line per entry, through
// the aggregate and a member's own route alike (the unit's gate), the entry still listed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connectClient, FIXTURE, startProxy } from './helpers/proxy.ts';

const HIDDEN_LINE = /^.*list entry carries hidden characters.*$/gm;

test('hidden characters: a zero-width and a tag-character tool name each flagged once across routes and re-reads, a plain member not', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-pins-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'servers.json');
  const node = process.execPath;
  writeFileSync(file, JSON.stringify({ mcpServers: {
    zw: { command: node, args: [FIXTURE, '--extra-tool=ad\u200Bd'] },
    tag: { command: node, args: [FIXTURE, '--extra-tool=echo\u{E0041}\u{E0042}'] },
    plain: { command: node, args: [FIXTURE, '--extra-tool=add'] },
  } }));
  const proxy = await startProxy(['--config', file]);
  t.after(() => proxy.stop());
  // The aggregate's namespacing spells the name in its own safe characters; the member's route lists it as the server sent it.
  for (const [url, listed] of [[proxy.url, 'zw__ad_d'], [proxy.url, 'zw__ad_d'], [`${proxy.url}/servers/zw`, 'ad\u200Bd']] as const) {
    const { client } = await connectClient(url, 'streamable');
    t.after(() => client.close());
    const names = (await client.listTools()).tools.map(({ name }) => name);
    assert.ok(names.includes(listed), `the flagged tool is still listed as ${listed}: ${names.join(' ')}`);
  }
  await proxy.waitForLog(/list entry carries hidden characters.*U\+E0041 \(tag\), U\+E0042 \(tag\)/);
  const lines = proxy.logs().match(HIDDEN_LINE) ?? [];
  assert.equal(lines.length, 2, `one line per flagged entry:\n${lines.join('\n')}`);
  assert.ok(lines.some((line) => /server=zw/.test(line) && line.includes('U+200B (zero-width)') && line.includes('name=ad\\u{200B}d')), lines.join('\n'));
  assert.ok(!lines.some((line) => /server=plain/.test(line)));
});

test('hidden characters: a bidi override in the single-server form is flagged', { timeout: 30_000 }, async (t) => {
  const proxy = await startProxy(['--', process.execPath, FIXTURE, '--extra-tool=evil\u202Etxt.exe']);
  t.after(() => proxy.stop());
  const { client } = await connectClient(proxy.url, 'sse');
  t.after(() => client.close());
  await client.listTools();
  assert.match(await proxy.waitForLog(HIDDEN_LINE), /U\+202E \(bidi\)/);
});
