/**
 * The Dockerfile for real: built (against a locally made stand-in for its node:*-slim base, since
 * no registry is reachable), then run with the environment a container platform sets: SDK clients
 * over /sse and /mcp through the container's port, a mounted servers file and key file, a non-root
 * user, the HEALTHCHECK, tini reaping orphans, and `docker stop` ending it cleanly. Skipped where
 * no engine can run, except in CI. A new case is one more `start({ env, mounts, args })`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectClient, eventually, textOf, withDeadline } from './helpers/proxy.ts';
import { checkEverythingBasics } from './helpers/everything.ts';
import { runContainer, startEngine, whyNoEngine, type Container, type Engine, type RunOptions } from './helpers/docker-engine.ts';
import { nodeBaseImage, packEverything, packFaultFixture, projectImage, whyNoBase } from './helpers/docker-image.ts';

const AUTH_KEY = 'docker-test-key-5f1c';
const AUTH = { authorization: `Bearer ${AUTH_KEY}` };
/** Where the packed MCP servers are mounted in the container. */
const FIXTURES = '/fixtures';
/** An independent session's connect waits for its `npx -y` child, slow on a loaded 2-core machine. */
const CONNECT_MS = 60_000;
/** How long an orphan that has ended may take to be reaped. */
const ORPHAN_GRACE_MS = 10_000;

test('the Docker image builds from the Dockerfile and runs as deployed', { timeout: 40 * 60_000 }, async (t) => {
  const missing = whyNoEngine() ?? whyNoBase();
  if (missing !== undefined) {
    // CI installs docker.io and debootstrap (.ci/run): there a missing engine is a failure, not a skip.
    assert.notEqual(process.env.CI, 'true', `CI must run the Docker test, but ${missing}`);
    return void t.skip(missing);
  }
  const cleanups: Array<() => unknown> = [];
  t.after(async () => { for (const fn of cleanups.reverse()) await fn(); });
  const note = (line: string): void => t.diagnostic(line);
  const timed = async <T>(what: string, fn: () => T | Promise<T>): Promise<T> => {
    const started = Date.now();
    const result = await fn();
    note(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return result;
  };

  const engine = await timed('engine', () => startEngine());
  cleanups.push(() => engine.stop());
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-docker-'));
  chmodSync(dir, 0o755); // the container's node user reads the mounted tarballs
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const everything = await packEverything(dir);
  const fault = packFaultFixture(dir);
  const mounts = { [`${FIXTURES}/everything.tgz`]: everything, [`${FIXTURES}/fault.tgz`]: fault };

  const base = await timed('base image', () => nodeBaseImage(engine, note));
  const image = await timed('docker build of the Dockerfile', () => projectImage(engine, base, note));
  note(`image size: ${imageSizeMb(engine, image)} MB (base ${imageSizeMb(engine, base)} MB); layers with content, newest first:`);
  for (const layer of engine.run(['history', '--format', '{{.Size}}  {{.CreatedBy}}', image], 'docker history').split('\n')) {
    if (!layer.startsWith('0B')) note(`  ${layer.slice(0, 110)}`);
  }
  const config = (JSON.parse(engine.run(['image', 'inspect', image], 'docker image inspect')) as Array<{ Config: { User: string } }>)[0]!.Config;
  assert.equal(config.User, 'node', 'the image runs as the unprivileged node user');

  const start = async (options: RunOptions): Promise<Container> => {
    const container = await runContainer(engine, image, { ...options, mounts: { ...mounts, ...options.mounts } });
    cleanups.push(() => container.remove());
    return container;
  };
  // A servers file and the key as mounted files, as an operator deploys many servers.
  const serversFile = join(dir, 'servers.json');
  writeFileSync(serversFile, JSON.stringify({ mcpServers: {
    everything: { command: 'npx', args: ['-y', `file:${FIXTURES}/everything.tgz`] },
    fault: { command: 'npx', args: ['-y', `file:${FIXTURES}/fault.tgz`], mode: 'independent' },
  } }, null, 2));
  const keyFile = join(dir, 'key');
  writeFileSync(keyFile, `${AUTH_KEY}\n`);

  // All started at once: the first HEALTHCHECK probe only runs 30 s (its interval) after start.
  const [shared, independent, many] = await Promise.all([
    start({ env: { AUTH_KEY, SHARED_SESSION: 'true', MCP_SERVER_CONFIG: `npx -y file:${FIXTURES}/everything.tgz`, ENV_PASSTHROUGH: 'MCPPROXY_PASS', MCPPROXY_PASS: 'passed' } }),
    start({ env: { AUTH_KEY, SHARED_SESSION: 'false', MCP_SERVER_CONFIG: `npx -y file:${FIXTURES}/fault.tgz` } }),
    start({
      env: { AUTH_KEY_FILE: '/run/secrets/mcpproxy-key' },
      mounts: { '/etc/mcpproxy/servers.json': serversFile, '/run/secrets/mcpproxy-key': keyFile },
      args: ['--config', '/etc/mcpproxy/servers.json'],
    }),
  ]);

  await t.test('serves SDK clients over /sse and /mcp with the access key', async () => {
    const denied = await fetch(`${shared.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(denied.status, 403, 'no key, no entry');
    await denied.body?.cancel();
    for (const kind of ['sse', 'streamable'] as const) {
      const { client } = await connectClient(shared.url, kind, { headers: AUTH, connectMs: CONNECT_MS });
      try {
        await withDeadline(checkEverythingBasics(client, []), 30_000, `server-everything over ${kind}`);
      } finally {
        await client.close();
      }
    }
  });

  // `docker run -e AUTH_KEY=…`: the container's environment is the proxy's, and a child must not read it.
  await t.test('a child\'s environment has no AUTH_KEY or MCP_SERVER_CONFIG, and has the --env-passthrough name', async () => {
    const { client } = await connectClient(shared.url, 'streamable', { headers: AUTH, connectMs: CONNECT_MS });
    try {
      const env = JSON.parse(textOf(await client.callTool({ name: 'get-env', arguments: {} }))) as Record<string, string>;
      assert.equal(env.MCPPROXY_PASS, 'passed');
      for (const name of ['AUTH_KEY', 'MCP_SERVER_CONFIG', 'SHARED_SESSION', 'ENV_PASSTHROUGH']) assert.equal(env[name], undefined, name);
      assert.ok(!JSON.stringify(env).includes(AUTH_KEY), 'the key under no name');
    } finally {
      await client.close();
    }
  });

  // The calls above went through this container's child: the sandbox (auto, the default) degraded, it did not fail.
  await t.test('the sandbox degrades as docs/SANDBOX.md says: one warn line naming what is not enforced', () => {
    const lines = shared.logs().split('\n').filter((line) => /\bsandbox\b/.test(line));
    assert.equal(lines.length, 1, `one sandbox line for the one server:\n${lines.join('\n')}`);
    const [line] = lines;
    assert.match(line, /\bwarn\s+sandbox mode=auto\b/, line);
    // /sys/fs/cgroup is read-only in a container, and the image has no working bwrap.
    assert.match(line, /unenforced="[^"]*\bmemory: [^"]*\bfilesystem: [^"]*"/, line);
  });

  await t.test('a mounted --config servers file: each server on its route, all of them in the aggregate', async () => {
    assert.equal((await fetch(`${many.url}/status`)).status, 401, 'the mounted key file is in force');
    const one = await connectClient(`${many.url}/servers/everything`, 'streamable', { headers: AUTH, connectMs: CONNECT_MS });
    try {
      await withDeadline(checkEverythingBasics(one.client, []), 30_000, 'server-everything on its own route');
    } finally {
      await one.client.close();
    }
    const { client } = await connectClient(many.url, 'sse', { headers: AUTH, connectMs: CONNECT_MS });
    try {
      await eventually(async () => (await client.listTools()).tools.some((tool) => tool.name === 'fault__echo'), 30_000, 'both members listed');
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      assert.ok(names.includes('everything__echo'), names.join(', '));
      assert.equal(textOf(await client.callTool({ name: 'fault__echo', arguments: { text: 'in a container' } })), 'in a container');
    } finally {
      await client.close();
    }
  });

  await t.test('every process in the container runs as uid 1000', () => {
    for (const container of [shared, independent, many]) {
      const processes = container.processes();
      assert.ok(processes.some((p) => p.args.includes('/usr/local/bin/mcpproxy')), JSON.stringify(processes));
      assert.deepEqual(processes.filter((p) => p.uid !== 1000), [], 'no process runs as another user');
    }
  });

  await t.test('tini reaps an orphan of a session\'s server: no zombie', async () => {
    const orphan = await orphanExits(independent);
    assert.equal(orphan.stat, undefined, `the orphan is reaped, not left a zombie of PID 1: ${orphan.stat}`);
  });

  await t.test('the check above can fail: without tini as PID 1 the same orphan stays a zombie', async () => {
    const bare = await start({ entrypoint: '/usr/local/bin/mcpproxy', env: { AUTH_KEY, SHARED_SESSION: 'false', MCP_SERVER_CONFIG: `npx -y file:${FIXTURES}/fault.tgz` } });
    const orphan = await orphanExits(bare);
    assert.match(orphan.stat ?? 'reaped', /^\d+ \(.*\) Z 1 /, 'a zombie whose parent is PID 1 (mcpproxy, which reaps only its own children)');
  });

  await t.test('HEALTHCHECK turns healthy', async () => {
    await eventually(() => shared.inspect().State.Health?.Status === 'healthy', 90_000,
      `health of the shared container (${JSON.stringify(shared.inspect().State.Health)})`);
  });

  await t.test('docker stop ends it cleanly: exit code 0, not the SIGKILL after the timeout', async () => {
    for (const container of [shared, independent, many]) {
      const { exitCode, ms } = container.stop(10);
      note(`docker stop took ${ms} ms`);
      assert.equal(exitCode, 0, `exit code after docker stop:\n${container.logs()}`);
      await container.waitForLog(/\binfo\s+stopped\b/, 10_000); // mcpproxy's own orderly shutdown, not a kill
    }
  });
});

/**
 * A session's server spawns a grandchild and then exits, so the kernel hands the grandchild to
 * the container's PID 1; once that grandchild ends too (with its process group, or killed here)
 * only PID 1 can reap it. Resolves with its /proc stat line if it is still there after a grace.
 */
async function orphanExits(container: Container): Promise<{ pid: number; stat: string | undefined }> {
  const { client } = await connectClient(container.url, 'sse', { headers: AUTH, connectMs: CONNECT_MS });
  let pid: number;
  try {
    pid = (JSON.parse(textOf(await client.callTool({ name: 'spawn-grandchild', arguments: {} }))) as { pid: number }).pid;
    await client.callTool({ name: 'crash', arguments: {} }).catch(() => undefined); // no answer: the server is gone
  } finally {
    await client.close();
  }
  const stat = (): string | undefined => {
    const r = container.exec(['cat', `/proc/${pid}/stat`]);
    return r.status === 0 ? r.stdout.trim() : undefined;
  };
  const deadline = Date.now() + ORPHAN_GRACE_MS;
  for (;;) {
    const line = stat();
    if (line === undefined) return { pid, stat: undefined };
    // "pid (comm) state ppid ...": still running under PID 1, it is ended here; a zombie only waits.
    const [state, ppid] = line.slice(line.lastIndexOf(')') + 2).split(' ');
    if (state !== 'Z' && ppid === '1') container.exec(['kill', String(pid)]);
    if (Date.now() > deadline) return { pid, stat: line };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Uncompressed size of an image, in MB (10^6 bytes, as docker prints it). */
function imageSizeMb(engine: Engine, image: string): number {
  return Math.round(Number(engine.run(['image', 'inspect', '--format', '{{.Size}}', image], 'docker image inspect')) / 1e6);
}
