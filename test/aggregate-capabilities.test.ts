/**
 * Shared members of the aggregate are first initialized by the aggregate's own catalog, and a shared
 * server keeps that handshake for every session. server-everything offers its sampling and elicitation
 * tools only to a client that declared those capabilities, and a 2026-07-28 remote reads them from each
 * request's envelope: so the catalog must declare what the proxy relays, or those round trips never
 * happen through the aggregate. Members here: server-everything as a shared stdio child, and behind a
 * second mcpproxy as a shared remote over each kind (2026-07-28 stateless, Streamable HTTP session, legacy SSE).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, eventually, EVERYTHING, startProxy, withDeadline } from './helpers/proxy.ts';

/** A stdio child, then the same server behind a second mcpproxy over each remote kind. */
const MEMBERS = ['local', 'modern', 'session', 'old'];

test('the aggregate relays sampling and elicitation to shared members that look at client capabilities', { timeout: 90_000 }, async (t) => {
  const inner = await startProxy(['--shared', '--', process.execPath, EVERYTHING]);
  t.after(() => inner.stop());
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-caps-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'servers.json');
  writeFileSync(file, JSON.stringify({ mcpServers: {
    local: { command: process.execPath, args: [EVERYTHING] },
    modern: { url: `${inner.url}/mcp` },
    session: { url: `${inner.url}/mcp`, type: 'http', upstreamProtocol: 'legacy' },
    old: { url: `${inner.url}/sse` },
  } }));
  const proxy = await startProxy(['--config', file]);
  t.after(() => proxy.stop());
  await proxy.waitForLog(/remote server connected server=modern .*era=modern/);
  await proxy.waitForLog(/remote server connected server=session .*kind=streamable/);
  await proxy.waitForLog(/remote server connected server=old .*kind=sse/);

  const { client } = await connectClient(proxy.url, 'streamable', { capabilities: { sampling: {}, elicitation: {} } });
  t.after(() => client.close());
  const prompts: string[] = [];
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
    prompts.push((req.params.messages[0]!.content as { text: string }).text);
    return { role: 'assistant', model: 'test-model', content: { type: 'text', text: 'sampled here' } };
  });
  let asked = 0;
  client.setRequestHandler(ElicitRequestSchema, async () => {
    asked++;
    return { action: 'decline' };
  });

  let names = new Set<string>();
  await eventually(async () => {
    names = new Set((await client.listTools()).tools.map((tool) => tool.name));
    return MEMBERS.every((member) => names.has(`${member}__echo`));
  }, 30_000, 'both members listed');
  for (const member of MEMBERS) {
    for (const tool of ['trigger-sampling-request', 'trigger-elicitation-request']) {
      assert.ok(names.has(`${member}__${tool}`), `${member}__${tool} is listed: ${[...names].join(', ')}`);
    }
    const sampled = await withDeadline(client.callTool({ name: `${member}__trigger-sampling-request`, arguments: { prompt: `from ${member}` } }), 30_000, `${member} sampling`);
    assert.match(JSON.stringify(sampled.content), /sampled here/, `${member}: the client's answer reached the server`);
    const elicited = await withDeadline(client.callTool({ name: `${member}__trigger-elicitation-request`, arguments: {} }), 30_000, `${member} elicitation`);
    assert.match(JSON.stringify(elicited.content), /declined/, `${member}: the client's decline reached the server`);
  }
  assert.deepEqual(prompts.map((prompt) => /from (\w+)/.exec(prompt)?.[1]), MEMBERS, prompts.join(' | '));
  assert.equal(asked, MEMBERS.length);
});
