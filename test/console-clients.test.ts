// The connect panel's commands run for real against the proxy: Claude Code adds the server and its
// health check connects; Claude Desktop's mcp-remote bridge lists the tools. Only loopback is reached.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { snippet } from '../src/front/console/snippets.ts';
import { FIXTURE, ROOT, startProxy, withDeadline } from './helpers/proxy.ts';

const KEY = 'clients-test-key-8c1e';
/** Claude Code and mcp-remote keep their settings under HOME: each test gets an empty one. */
function tempHome(t: TestContext): string {
  const home = mkdtempSync(join(tmpdir(), 'mcpproxy-clients-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  return home;
}

/** Nothing but the proxy on loopback: no telemetry, no update check, no other traffic. */
const QUIET = { DISABLE_TELEMETRY: '1', DISABLE_AUTOUPDATER: '1', DISABLE_ERROR_REPORTING: '1', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' };

test('Claude Code: the printed `claude mcp add` adds the proxy, and `claude mcp list` connects', { timeout: 120_000 }, async (t) => {
  const proxy = await startProxy(['--auth-key', KEY, '--upstream-protocol', 'legacy', '--', process.execPath, FIXTURE]);
  t.after(() => proxy.stop());
  const home = tempHome(t);
  const env = { ...process.env, ...QUIET, HOME: home, PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}` };
  const command = snippet('claude-code', { baseUrl: proxy.url, hasKey: true }).text;
  const run = (line: string, key: string) => spawnSync('bash', ['-c', line], { cwd: home, env: { ...env, MCPPROXY_KEY: key }, encoding: 'utf8', timeout: 60_000 });

  const added = run(command, KEY);
  assert.equal(added.status, 0, `${added.stdout}${added.stderr}`);
  // The same command with a wrong key: the health check must tell the two apart.
  assert.equal(run(command.replace(' mcpproxy ', ' wrongkey '), 'not-the-key').status, 0);
  const list = run('claude mcp list', KEY);
  t.diagnostic(list.stdout.trim());
  assert.match(list.stdout, new RegExp(`^mcpproxy: ${proxy.url}/mcp \\(HTTP\\) - ✔ Connected$`, 'm'));
  assert.match(list.stdout, /^wrongkey: .* - (?!✔ Connected)/m);
});

test('Claude Desktop: the printed mcp-remote entry bridges to the proxy', { timeout: 120_000 }, async (t) => {
  const proxy = await startProxy(['--auth-key', KEY, '--upstream-protocol', 'legacy', '--', process.execPath, FIXTURE]);
  t.after(() => proxy.stop());
  const home = tempHome(t);
  const entry = JSON.parse(snippet('claude-desktop', { baseUrl: proxy.url, hasKey: true }).text).mcpServers.mcpproxy as {
    command: string; args: string[]; env: Record<string, string>;
  };
  // The placeholder is what the operator replaces; npx finds the devDependency without the registry.
  const env = { ...process.env, ...entry.env, AUTH_HEADER: entry.env.AUTH_HEADER!.replace('<MCPPROXY_KEY>', KEY), HOME: home, MCP_REMOTE_CONFIG_DIR: join(home, '.mcp-auth') };
  const transport = new StdioClientTransport({ command: entry.command, args: entry.args, env: env as Record<string, string>, cwd: ROOT, stderr: 'pipe' });
  const client = new Client({ name: 'desktop-like', version: '1.0.0' });
  t.after(() => client.close());
  await withDeadline(client.connect(transport), 60_000, 'mcp-remote connects');
  const names = (await client.listTools()).tools.map((tool) => tool.name);
  assert.ok(names.includes('echo'), names.join(','));
});
