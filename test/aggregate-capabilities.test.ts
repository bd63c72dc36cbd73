/**
 * Shared members of the aggregate are first initialized by the aggregate's own catalog, and a shared
 * server keeps that handshake for every session. server-everything offers its sampling and elicitation
 * tools only to a client that declared those capabilities, and a 2026-07-28 remote reads them from each
 * request's envelope: so the catalog must declare what the proxy relays, or those round trips never
 * happen through the aggregate. Members here: server-everything as a shared stdio child, and behind a
 * second mcpproxy as a shared remote over each kind (2026-07-28 stateless, Streamable HTTP session, legacy SSE).
 * A shared server on its own route is first initialized by whichever client comes first: its handshake
 * carries what the proxy relays too, so what the server offers does not depend on that client.
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

test('a shared server on its own route offers its capability tools whatever the first client declared', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--shared', '--', process.execPath, EVERYTHING]);
  t.after(() => proxy.stop());
  // The first client declares nothing; the handshake the child keeps is the proxy's, made at its start.
  const { client: bare } = await connectClient(proxy.url, 'streamable');
  t.after(() => bare.close());
  const toolsOf = async (c: typeof bare): Promise<string[]> => (await c.listTools()).tools.map((tool) => tool.name);
  const listed = await toolsOf(bare);
  assert.ok(listed.includes('trigger-sampling-request'), 'listed to every client of the shared server');
  // Roots are the server's own state, not a call's: never declared to a shared child.
  assert.ok(!listed.includes('get-roots-list'), 'roots are not added');

  const { client: able } = await connectClient(proxy.url, 'sse', { capabilities: { sampling: {} } });
  t.after(() => able.close());
  able.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: 'assistant', model: 'm', content: { type: 'text', text: 'sampled by able' } }));
  assert.ok((await toolsOf(able)).includes('trigger-sampling-request'));
  const sampled = await withDeadline(able.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi' } }), 30_000, 'sampling');
  assert.match(JSON.stringify(sampled.content), /sampled by able/);
  // The client that cannot sample answers with its own error, which the server reports; nothing reaches `able`.
  const refused = await withDeadline(bare.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi' } }).catch((err: Error) => ({ content: err.message })), 30_000, 'refused sampling');
  assert.match(JSON.stringify(refused), /-32601/, 'the bare client\'s own Method not found, reported by the server');
  assert.doesNotMatch(JSON.stringify(refused), /sampled by able/);
});
