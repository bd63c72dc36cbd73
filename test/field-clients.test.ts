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
import { FIXTURE, startProxy, withDeadline } from './helpers/proxy.ts';

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
