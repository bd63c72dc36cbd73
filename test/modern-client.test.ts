/**
 * The official SDK v2 client (@modelcontextprotocol/client 2.4) through the built binary to a legacy
 * stdio child, in each of its negotiation modes: default (legacy: initialize, 2025-11-25, a session),
 * 'auto' (probes server/discover, ends modern) and pinned 2026-07-28. Against server-everything and the
 * fixture: tools, resources, prompts, progress, elicitation and sampling (input_required round trips
 * when modern), list_changed through listen, and resources/updated through listen resourceSubscriptions.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { EVERYTHING, eventually, FIXTURE, startProxy, textOf, withDeadline, type RunningProxy } from './helpers/proxy.ts';
import { checkEverythingBasics } from './helpers/everything.ts';

const TIMEOUT = { timeout: 60_000 };
const MODERN = '2026-07-28';
type Mode = 'legacy' | 'auto' | 'pinned';
const MODES: Mode[] = ['legacy', 'auto', 'pinned'];
type ClientOptions = NonNullable<ConstructorParameters<typeof Client>[1]>;

async function proxyFor(t: TestContext, server: string): Promise<RunningProxy> {
  const proxy = await startProxy(['--', process.execPath, server]);
  t.after(() => proxy.stop());
  return proxy;
}

/** A v2 client in `mode`, connected to the proxy's /mcp, with sampling and elicitation answered. */
async function v2Client(t: TestContext, base: string, mode: Mode, options: Partial<ClientOptions> = {}): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const versionNegotiation: ClientOptions['versionNegotiation'] = mode === 'legacy' ? undefined : mode === 'auto' ? { mode: 'auto' } : { mode: { pin: MODERN } };
  const client = new Client({ name: `v2-${mode}`, version: '1.0.0' }, {
    capabilities: { sampling: {}, elicitation: { form: {} } },
    ...(versionNegotiation === undefined ? {} : { versionNegotiation }),
    ...options,
  });
  client.setRequestHandler('sampling/createMessage', async (req) => {
    const content = req.params.messages[0]!.content as { text?: string };
    return { role: 'assistant', content: { type: 'text', text: `sampled(${content.text ?? ''})` }, model: 'test-model', stopReason: 'endTurn' };
  });
  client.setRequestHandler('elicitation/create', async (req) => {
    const content: Record<string, string | boolean> = req.params.message.startsWith('Please provide inputs')
      ? { name: 'Ada', check: true, email: 'ada@example.com' } // server-everything's form
      : { name: `answer to ${req.params.message}` };
    return { action: 'accept', content };
  });
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`));
  await withDeadline(client.connect(transport), 15_000, `connect (${mode})`);
  t.after(() => client.close());
  return { client, transport };
}

function assertEra(mode: Mode, client: Client, transport: StreamableHTTPClientTransport): void {
  if (mode === 'legacy') {
    assert.equal(client.getNegotiatedProtocolVersion(), '2025-11-25');
    assert.ok(typeof transport.sessionId === 'string' && transport.sessionId.length > 0, 'a legacy client gets a session id');
  } else {
    assert.equal(client.getNegotiatedProtocolVersion(), MODERN, `${mode} ends modern`);
    assert.equal(transport.sessionId, undefined, 'no session id in 2026-07-28');
  }
}

/** Calls `trigger` until `arrived` settles (a legacy GET stream may open just after connect). */
async function untilArrived<T>(arrived: Promise<T>, trigger: () => Promise<unknown>, what: string): Promise<T> {
  let value: { v: T } | undefined;
  void arrived.then((v) => { value = { v }; });
  await eventually(async () => {
    if (value !== undefined) return true;
    await trigger();
    await Promise.race([arrived, new Promise((resolve) => setTimeout(resolve, 500))]);
    return value !== undefined;
  }, 15_000, what);
  return value!.v;
}

for (const mode of MODES) {
  test(`server-everything, SDK v2 ${mode}: tools, prompts, resources, progress, sampling, elicitation`, TIMEOUT, async (t) => {
    const proxy = await proxyFor(t, EVERYTHING);
    const { client, transport } = await v2Client(t, proxy.url, mode);
    assertEra(mode, client, transport);

    await checkEverythingBasics(client, ['trigger-long-running-operation', 'trigger-sampling-request', 'trigger-elicitation-request']);

    const progress: number[] = [];
    const long = await client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } },
      { onprogress: (p) => progress.push(p.progress), timeout: 30_000 },
    );
    assert.match(textOf(long), /Long running operation completed/);
    assert.ok(progress.length >= 1, 'progress notifications arrived');

    const sampled = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } });
    assert.match(textOf(sampled), /sampled\(Resource trigger-sampling-request context: hi\)/);
    const elicited = await client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
    assert.match(JSON.stringify(elicited.content), /User provided the requested information/);
    assert.match(JSON.stringify(elicited.content), /Ada/);
  });
}

for (const mode of MODES) {
  test(`fixture, SDK v2 ${mode}: tools, prompts, resources, progress, elicitation, sampling, list_changed and resources/updated`, TIMEOUT, async (t) => {
    const proxy = await proxyFor(t, FIXTURE);
    let changes = 0;
    let wake: () => void = () => {};
    const { client, transport } = await v2Client(t, proxy.url, mode, {
      listChanged: { tools: { onChanged: () => { changes++; wake(); } } },
    });
    assertEra(mode, client, transport);
    if (mode !== 'legacy') {
      assert.deepEqual(client.autoOpenedSubscription?.honoredFilter, { toolsListChanged: true }, 'listChanged opened a listen');
    }

    assert.ok((await client.listTools()).tools.some((tool) => tool.name === 'echo'));
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: mode } })), mode);
    assert.equal((await client.readResource({ uri: 'fixture://a' })).contents[0]!.uri, 'fixture://a');
    assert.match(JSON.stringify((await client.getPrompt({ name: 'greet', arguments: { name: 'Oslo' } })).messages), /Hello, Oslo!/);
    const progress: number[] = [];
    const slow = await client.callTool({ name: 'slow', arguments: { ms: 600, steps: 3, text: 'done' } }, { onprogress: (p) => progress.push(p.progress), timeout: 30_000 });
    assert.equal(textOf(slow), 'done');
    assert.deepEqual(progress, [1, 2, 3]);

    assert.deepEqual(JSON.parse(textOf(await client.callTool({ name: 'ask-elicit', arguments: { message: 'who?' } }))), { action: 'accept', content: { name: 'answer to who?' } });
    assert.equal(textOf(await client.callTool({ name: 'ask-sampling', arguments: { prompt: 'x' } })), 'sampled(x)');

    // list_changed caused by another client reaches this one (legacy: GET stream; modern: its listen).
    const other = (await v2Client(t, proxy.url, mode)).client;
    const changed = new Promise<void>((resolve) => { wake = resolve; });
    await untilArrived(changed, () => other.callTool({ name: 'notify-list-changed', arguments: {} }), 'tools list_changed');
    assert.ok(changes >= 1);

    if (mode !== 'legacy') {
      // resources/updated through a listen with resourceSubscriptions, tagged with that listen's id.
      const updates: Array<Record<string, unknown>> = [];
      let updated: () => void = () => {};
      const arrived = new Promise<void>((resolve) => { updated = resolve; });
      client.setNotificationHandler('notifications/resources/updated', (note) => {
        updates.push(note.params as Record<string, unknown>);
        updated();
      });
      const subscription = await withDeadline(client.listen({ resourceSubscriptions: ['fixture://a'] }), 10_000, 'listen ack');
      assert.deepEqual(subscription.honoredFilter, { resourceSubscriptions: ['fixture://a'] });
      await other.callTool({ name: 'update-resource', arguments: { uri: 'fixture://b' } });
      await untilArrived(arrived, () => other.callTool({ name: 'update-resource', arguments: { uri: 'fixture://a' } }), 'resources/updated');
      assert.ok(updates.every((params) => params.uri === 'fixture://a'), `only the subscribed URI: ${JSON.stringify(updates)}`);
      await subscription.close();
      assert.equal(await withDeadline(subscription.closed, 10_000, 'listen closed'), 'local');
    }
  });
}
