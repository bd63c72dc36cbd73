// The operator's console in a real browser: loads under its CSP with no error, follows the proxy live
// (a killed child, a new session, calls and errors), hands out client config, and asks for the key once.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { connectClient, FIXTURE, ROOT, startProxy, type RunningProxy } from './helpers/proxy.ts';
import type { Page } from 'puppeteer-core';
import { launchBrowser, openPage } from './helpers/browser.ts';

const node = process.execPath;
const ARTEFACTS = join(ROOT, 'test-results');
const MAX_PAGE_BYTES = 50 * 1024;
/** The page must show a change within this; the stream sends about once a second. */
const LIVE_MS = 2_000;

async function browserOrSkip(t: TestContext) {
  const launched = await launchBrowser();
  // CI installs Chromium (.ci/run); a developer's machine without it skips.
  if (launched === undefined) assert.notEqual(process.env.CI, 'true', 'chromium is not installed');
  else t.after(() => launched.close());
  return launched;
}

/** Waits until the element's text contains `text` (the function runs in the page, as a string: no DOM types here). */
async function waitForText(page: Page, selector: string, text: string): Promise<void> {
  await page.waitForFunction(`document.querySelector(${JSON.stringify(selector)})?.textContent?.includes(${JSON.stringify(text)})`, { timeout: LIVE_MS });
}

async function statusOf(proxy: RunningProxy, headers: Record<string, string> = {}): Promise<{ servers: Array<{ name: string; pids: number[] }> }> {
  return (await fetch(`${proxy.url}/status`, { headers })).json() as never;
}

test('the console follows a running proxy live, under its CSP, with no console error', { timeout: 120_000 }, async (t) => {
  const launched = await browserOrSkip(t);
  if (launched === undefined) return void t.skip('chromium is not installed (apt-get install chromium)');
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-console-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'servers.json');
  writeFileSync(file, JSON.stringify({ mcpServers: {
    fault: { command: node, args: [FIXTURE], upstreamProtocol: 'legacy' },
    solo: { command: node, args: [FIXTURE], mode: 'independent', upstreamProtocol: 'legacy' },
  } }));
  const proxy = await startProxy(['--config', file]);
  t.after(() => proxy.stop());

  const shell = await Promise.all(['/', '/console/console.css', '/console/console.js', '/console/icon.svg'].map((path) => fetch(`${proxy.url}${path}`)));
  const bytes = (await Promise.all(shell.map(async (res) => (await res.arrayBuffer()).byteLength))).reduce((a, b) => a + b, 0);
  t.diagnostic(`page weight: ${bytes} bytes`);
  assert.ok(bytes < MAX_PAGE_BYTES, `the page weighs ${bytes} bytes`);
  for (const res of shell) assert.match(res.headers.get('content-security-policy') ?? '', /^default-src 'self'/);

  const { page, errors, requests } = await openPage(launched.browser);
  await page.goto(`${proxy.url}/`, { waitUntil: 'load' });
  await page.waitForSelector('tr[data-server="fault"][data-state="ready"]', { timeout: 20_000 });
  await page.waitForSelector('tr[data-server="solo"][data-state="ready"]', { timeout: LIVE_MS });

  // A new session (and, independent, its own child) appears.
  const { client } = await connectClient(`${proxy.url}/servers/solo`, 'streamable');
  t.after(() => client.close());
  await page.waitForSelector('#sessions[data-total="1"]', { timeout: LIVE_MS });
  const soloPid = (await statusOf(proxy)).servers.find((s) => s.name === 'solo')!.pids[0]!;
  await page.waitForSelector(`#children tr[data-pid="${soloPid}"]`, { timeout: LIVE_MS });

  // Calls and an error reach the sparklines and the last-errors list.
  for (let i = 0; i < 5; i++) await client.callTool({ name: 'echo', arguments: { text: `e${i}` } });
  await client.callTool({ name: 'no-such-tool', arguments: {} }).catch(() => undefined);
  await page.waitForSelector('#calls tr[data-server="solo"] svg.spark polyline', { timeout: LIVE_MS });
  await waitForText(page, '#errors tbody', 'Unknown tool: no-such-tool');

  // A killed child: restarting, then ready again.
  const faultPid = (await statusOf(proxy)).servers.find((s) => s.name === 'fault')!.pids[0]!;
  process.kill(faultPid, 'SIGKILL');
  await page.waitForSelector('tr[data-server="fault"][data-state="restarting"]', { timeout: LIVE_MS });
  await page.waitForSelector('tr[data-server="fault"][data-state="ready"]', { timeout: 20_000 });

  // The connect panel: the aggregate by default, one server's route when picked; JSON that parses.
  const cursorJson = async (): Promise<{ mcpServers: Record<string, { url: string }> }> =>
    JSON.parse(await page.$eval('.snippet[data-client="cursor"] code', (code) => code.textContent ?? ''));
  await page.waitForSelector('.snippet[data-client="cursor"]', { timeout: LIVE_MS });
  assert.equal((await cursorJson()).mcpServers.mcpproxy!.url, `${proxy.url}/mcp`);
  await page.select('#route', 'solo');
  await waitForText(page, '.snippet[data-client="cursor"] code', '/servers/solo/mcp');
  assert.equal((await cursorJson()).mcpServers.solo!.url, `${proxy.url}/servers/solo/mcp`);

  mkdirSync(ARTEFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTEFACTS, 'console.png'), fullPage: true });
  t.diagnostic(`screenshot: ${join(ARTEFACTS, 'console.png')}`);
  assert.deepEqual(errors, []);
  assert.ok(requests.every((url) => url.startsWith(`${proxy.url}/`)), 'the page loads nothing from elsewhere');
});

test('with a key, the page asks once, keeps it for the tab and never puts it in a URL', { timeout: 60_000 }, async (t) => {
  const launched = await browserOrSkip(t);
  if (launched === undefined) return void t.skip('chromium is not installed (apt-get install chromium)');
  const key = 'console-test-key-5f2a';
  const proxy = await startProxy(['--auth-key', key, '--upstream-protocol', 'legacy', '--', node, FIXTURE]);
  t.after(() => proxy.stop());
  assert.equal((await fetch(`${proxy.url}/status/stream`)).status, 401, 'the data is behind the key');
  assert.equal((await fetch(`${proxy.url}/console/connect`)).status, 401);

  const { page, errors, requests } = await openPage(launched.browser);
  await page.goto(`${proxy.url}/`, { waitUntil: 'load' });
  await page.waitForSelector('#key-form:not([hidden])', { timeout: LIVE_MS });
  assert.ok(!requests.some((url) => url.includes('/status')), 'no data request before the key is given');

  await page.type('#key', 'wrong-key-123');
  await page.click('#key-form button');
  await waitForText(page, '#key-error', 'That key was refused.');
  await page.type('#key', key);
  await page.click('#key-form button');
  await page.waitForSelector('tr[data-server="default"][data-state="ready"]', { timeout: 10_000 });
  await page.waitForSelector('.snippet[data-client="claude-code"]', { timeout: LIVE_MS });

  // A client with the key is a principal the page names.
  const { client } = await connectClient(proxy.url, 'streamable', { headers: { authorization: `Bearer ${key}` } });
  t.after(() => client.close());
  await page.waitForSelector('#sessions[data-total="1"]', { timeout: LIVE_MS });
  await waitForText(page, '#sessions', 'key ');

  // A reload in the same tab does not ask again.
  await page.reload({ waitUntil: 'load' });
  await page.waitForSelector('tr[data-server="default"]', { timeout: LIVE_MS });
  assert.equal(await page.$eval('#key-form', (form) => form.hasAttribute('hidden')), true);

  assert.ok(requests.every((url) => !url.includes(key)), 'the key is never in a URL');
  const snippetsText = await page.$$eval('.snippet code', (codes) => codes.map((code) => code.textContent).join('\n'));
  assert.ok(!snippetsText.includes(key), 'the snippets carry a placeholder, never the key');
  // The refused key's 401 is the one error the browser reports.
  assert.deepEqual(errors.filter((text) => !text.includes('401')), []);
  assert.equal(errors.length, 1);
});
