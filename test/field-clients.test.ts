/**
 * Issue 22 item 10: what ordinary clients make of the proxy. A missing key must read as "access key
 * required", not start an OAuth flow, in a client that has an OAuth provider (as Claude Code and
 * mcp-remote have).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEY_VARIABLE } from '../src/front/console/snippets.ts';
import { BINARY, FIXTURE, ROOT, startProxy, withDeadline } from './helpers/proxy.ts';

test('without OAuth configured, an SDK client with an OAuth provider is told "access key required" and starts no OAuth', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--auth-key', 'field-test-key-1234', '--', process.execPath, FIXTURE]);
  t.after(() => proxy.stop());
  const oauthSteps: string[] = [];
  const step = (name: string) => (..._args: unknown[]): undefined => { oauthSteps.push(name); return undefined; };
  const provider: OAuthClientProvider = {
    get redirectUrl() { return 'http://127.0.0.1:1/callback'; },
    get clientMetadata() { return { redirect_uris: ['http://127.0.0.1:1/callback'], client_name: 'field-test' }; },
    clientInformation: step('clientInformation'),
    saveClientInformation: step('saveClientInformation'),
    tokens: step('tokens'),
    saveTokens: step('saveTokens'),
    redirectToAuthorization: step('redirectToAuthorization'),
    saveCodeVerifier: step('saveCodeVerifier'),
    codeVerifier: () => { oauthSteps.push('codeVerifier'); return ''; },
  };
  const requested: string[] = [];
  const recordingFetch: typeof fetch = (input, init) => {
    requested.push(new URL(String(input instanceof Request ? input.url : input)).pathname);
    return fetch(input, init);
  };
  const transport = new StreamableHTTPClientTransport(new URL(`${proxy.url}/mcp`), { authProvider: provider, fetch: recordingFetch });
  const client = new Client({ name: 'field-test', version: '1.0.0' });
  t.after(() => client.close());
  const err = await withDeadline(client.connect(transport).then(() => undefined, (e: unknown) => e as Error), 15_000, 'connect');
  assert.ok(err instanceof Error, 'refused');
  assert.match(err.message, /access key required/);
  assert.deepEqual(requested.filter((path) => path !== '/mcp'), [], 'no discovery, no registration');
  assert.deepEqual(oauthSteps.filter((s) => s !== 'tokens'), [], 'no OAuth flow');
});

/** Runs `command` to its end (or kills it after `ms`), resolving with its exit code and output. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv, ms: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString('utf8'); });
    child.stderr.on('data', (chunk: Buffer) => { out += chunk.toString('utf8'); });
    const timer = setTimeout(() => { out += `\n(killed after ${ms} ms)`; child.kill('SIGKILL'); }, ms);
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

const SNIPPET_KEY = 'snippet-test-key-5678';

async function printed(client: string, url: string): Promise<string> {
  const { code, out } = await run(BINARY, ['print-config', '--client', client, '--url', url], {}, 15_000);
  assert.equal(code, 0, out);
  return out;
}

test('print-config --client python prints code that runs on mcp 2.3.0 against the proxy', { timeout: 240_000 }, async (t) => {
  const venv = join(tmpdir(), 'mcpproxy-test-venv-mcp-2.3.0');
  const python = join(venv, 'bin', 'python');
  if (!existsSync(join(venv, '.ready'))) {
    const made = await run('python3', ['-m', 'venv', venv], {}, 60_000);
    // --retries 0: a machine whose index is local fails at once on the default index instead of backing off for minutes.
    const installed = made.code === 0 ? await run(join(venv, 'bin', 'pip'), ['install', '-q', '--retries', '0', 'mcp==2.3.0'], {}, 180_000) : made;
    if (installed.code !== 0) return t.skip(`mcp==2.3.0 could not be installed from this machine's Python index: ${installed.out.slice(-300)}`);
    writeFileSync(join(venv, '.ready'), '');
  }
  const proxy = await startProxy(['--auth-key', SNIPPET_KEY, '--', process.execPath, FIXTURE]);
  t.after(() => proxy.stop());
  const dir = mkdtempSync(join(tmpdir(), 'snippet-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'client.py'), await printed('python', proxy.url));
  const { code, out } = await run(python, [join(dir, 'client.py')], { [KEY_VARIABLE]: SNIPPET_KEY }, 60_000);
  assert.equal(code, 0, out);
  assert.match(out, /name='echo'/);
});

test('print-config --client typescript prints code that lists the tools and exits', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--auth-key', SNIPPET_KEY, '--', process.execPath, FIXTURE]);
  t.after(() => proxy.stop());
  // Inside the checkout, so its imports resolve to this node_modules' SDK 1.32.
  const file = join(ROOT, 'test', `.snippet-${process.pid}.mts`);
  t.after(() => rmSync(file, { force: true }));
  writeFileSync(file, await printed('typescript', proxy.url));
  const { code, out } = await run(process.execPath, ['--import', 'tsx', file], { [KEY_VARIABLE]: SNIPPET_KEY }, 30_000);
  assert.equal(code, 0, out);
  assert.match(out, /name: 'echo'/);
});
