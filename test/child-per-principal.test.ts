/**
 * `childPer: principal` on the aggregate (issue 13), against the built binary with named keys: an
 * independent member that runs a child per principal serves all of one user's sessions (SDK 1.32 over
 * Streamable HTTP and SSE) and stateless calls (SDK 2.4 pinned to 2026-07-28) from one child with that
 * user's allowed environment, and never another user's (even with the same environment); a member left at a child per session beside it
 * starts one per session. /status `children[]` names the principal each such child runs for (issue 17).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client as ClientV2, StreamableHTTPClientTransport as StreamableV2 } from '@modelcontextprotocol/client';
import { connectClient, eventually, FIXTURE, startProxy, textOf, withDeadline, type TransportKind } from './helpers/proxy.ts';

type Env = { value: string | null; pid: number };
interface ChildRow { pid: number; server: string; session?: string; principal?: string }

const node = process.execPath;
const KEYS = { alice: 'alice-key-0001', bob: 'bob-key-00002' };
/** The same allowed variable for both users: only the principal tells their children apart. */
const TEAM = 'ops';

test('aggregate: a childPer principal member gives each user one child for all their sessions and stateless calls; /status names its principal', { timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-perprincipal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'keys'), `alice:${KEYS.alice}\nbob:${KEYS.bob}\n`);
  writeFileSync(join(dir, 'servers.json'), JSON.stringify({ mcpServers: {
    mine: { command: node, args: [FIXTURE], mode: 'independent', childPer: 'principal', allowEnv: ['TEAM'], upstreamProtocol: 'legacy' },
    theirs: { command: node, args: [FIXTURE], mode: 'independent', upstreamProtocol: 'legacy' },
  } }));
  const proxy = await startProxy(['--config', join(dir, 'servers.json'), '--auth-keys-file', join(dir, 'keys')]);
  t.after(() => proxy.stop());
  const headersOf = (user: 'alice' | 'bob'): Record<string, string> => ({ authorization: `Bearer ${KEYS[user]}`, 'x-mcp-env': `TEAM=${TEAM}` });

  const session = async (user: 'alice' | 'bob', kind: TransportKind): Promise<{ mine: Env; theirs: number }> => {
    const { client } = await connectClient(proxy.url, kind, { headers: headersOf(user), name: `${user}-${kind}` });
    t.after(() => client.close());
    // Calls are routed by the members' catalogs, read once each member is up.
    await eventually(async () => (await client.listTools()).tools.filter((tool) => ['mine__env', 'theirs__pid'].includes(tool.name)).length === 2, 30_000, 'both members listed');
    const mine = JSON.parse(textOf(await client.callTool({ name: 'mine__env', arguments: { name: 'TEAM' } }))) as Env;
    const theirs = (JSON.parse(textOf(await client.callTool({ name: 'theirs__pid', arguments: {} }))) as { pid: number }).pid;
    return { mine, theirs };
  };
  const a1 = await session('alice', 'streamable');
  const a2 = await session('alice', 'sse');
  const b1 = await session('bob', 'streamable');
  const b2 = await session('bob', 'sse');

  for (const { mine } of [a1, a2, b1, b2]) assert.equal(mine.value, TEAM, 'the allowed variable reaches the child');
  assert.equal(a1.mine.pid, a2.mine.pid, 'alice\'s two sessions share her child');
  assert.equal(b1.mine.pid, b2.mine.pid, 'bob\'s two sessions share his');
  assert.notEqual(a1.mine.pid, b1.mine.pid, 'never across users');
  assert.equal(new Set([a1.theirs, a2.theirs, b1.theirs, b2.theirs]).size, 4, 'the member left at a child per session starts one per session');

  const modern = new ClientV2({ name: 'alice-modern', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  await withDeadline(modern.connect(new StreamableV2(new URL(`${proxy.url}/mcp`), { requestInit: { headers: headersOf('alice') } })), 15_000, 'connect 2026-07-28');
  t.after(() => modern.close());
  const viaStateless = JSON.parse(textOf(await modern.callTool({ name: 'mine__env', arguments: { name: 'TEAM' } }))) as Env;
  assert.deepEqual(viaStateless, a1.mine, 'a stateless call of alice\'s meets her child');

  const { children } = await (await fetch(`${proxy.url}/status`, { headers: headersOf('alice') })).json() as { children: ChildRow[] };
  const row = (pid: number): ChildRow | undefined => children.find((child) => child.pid === pid);
  const ownerOf = (pid: number): Partial<ChildRow> => ({ server: row(pid)?.server, session: row(pid)?.session, principal: row(pid)?.principal });
  assert.deepEqual(ownerOf(a1.mine.pid), { server: 'mine', session: undefined, principal: 'key:alice' }, 'her child, serving her sessions, not only stateless calls');
  assert.deepEqual(ownerOf(b1.mine.pid), { server: 'mine', session: undefined, principal: 'key:bob' });
  assert.ok(children.some((child) => child.server === 'mine' && child.principal === '~catalog'), 'the aggregate\'s list reader has a child of its own');
  for (const pid of [a1.theirs, b2.theirs]) {
    assert.equal(row(pid)?.principal, undefined, 'a child per session names its session, not a principal');
    assert.match(row(pid)?.session ?? '', /^.{8}$/);
  }
});
