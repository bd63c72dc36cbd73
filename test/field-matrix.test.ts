// The field matrix (issue 22): the built binary run the way users run it, with the defaults
// (`--sandbox auto`, bubblewrap installed, an AUTH_KEY in the proxy's environment) and cold caches
// (a fresh HOME and state dir per start), against servers installed the ways users install them:
// `npx -y` from a slow registry (the README's `npm start`), a local checkout's node_modules path,
// its node_modules/.bin, a venv console script (FastMCP 4) and `venv/bin/python server.py`
// (low-level mcp 2.3). Each in shared and independent mode, each with every client era: ready,
// tools listed and called, sampling, elicitation, progress, logging, no proxy secret in the
// child's environment. A table of the results goes to stdout at the end.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { connectEra, ERAS, type Era, type FieldClient } from './helpers/field-clients.ts';
import { startNpmRegistry, type NpmRegistry } from './helpers/npm-registry.ts';
import { ROOT, startProxy, withDeadline, type RunningProxy } from './helpers/proxy.ts';
import { hostProbe } from './helpers/sandbox.ts';
import { cachedVenv } from './helpers/venv.ts';
import { printMatrix, type Cell, type MatrixRow } from './helpers/field-table.ts';
import { EVERYTHING_PROFILE, PYTHON_PROFILE, runOperations, OPERATIONS, type Profile } from './helpers/field-operations.ts';

const run = promisify(execFile);
const SECRET = `field-secret-${randomUUID()}`;
const EVERYTHING_PKG = '@modelcontextprotocol/server-everything';
const EVERYTHING_VERSION = (JSON.parse(readFileSync(join(ROOT, 'node_modules', EVERYTHING_PKG, 'package.json'), 'utf8')) as { version: string }).version;
/** Above the era probe's 5 s of silence, with margin: the cold `npx -y` fetch must outlast any probe. */
const COLD_FETCH_MS = 8_000;
const READY_MS = { cold: 120_000, warm: 60_000 };
const MODES = ['shared', 'independent'] as const;
type Mode = (typeof MODES)[number];

const rows: MatrixRow[] = [];
let work: string;
let fastRegistry: NpmRegistry;
const venvs: Record<'fastmcp' | 'lowlevel', { dir: string } | { skip: string }> = { fastmcp: { skip: 'not built' }, lowlevel: { skip: 'not built' } };

/** How a user starts the server: the command line (after `--`), and whether it is the README's `npm start`. */
interface InstallWay {
  name: string;
  profile: Profile;
  command(): string[] | { skip: string };
  /** The npx row: a slow registry of its own per start, and a warm restart after. */
  isNpx?: true;
}

/** `npm start`'s own arguments from package.json, with a free port instead of 8000. */
function npmStartArgs(): string[] {
  const script = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const args = script.split(' && ').at(-1)!.split(' ').slice(1);
  args[args.indexOf('--port') + 1] = '0';
  return args;
}

function venvCommand(which: 'fastmcp' | 'lowlevel', build: (dir: string) => string[]): string[] | { skip: string } {
  const venv = venvs[which];
  return 'skip' in venv ? venv : build(venv.dir);
}

const WAYS: InstallWay[] = [
  { name: 'npx -y (npm start)', profile: EVERYTHING_PROFILE, command: () => npmStartArgs().slice(npmStartArgs().indexOf('--') + 1), isNpx: true },
  { name: 'node_modules path', profile: EVERYTHING_PROFILE, command: () => ['node', join(work, 'srv', 'node_modules', EVERYTHING_PKG, 'dist', 'index.js')] },
  { name: 'node_modules/.bin', profile: EVERYTHING_PROFILE, command: () => [join(work, 'srv', 'node_modules', '.bin', 'mcp-server-everything')] },
  { name: 'venv fastmcp run', profile: PYTHON_PROFILE, command: () => venvCommand('fastmcp', (dir) => [join(dir, 'bin', 'fastmcp'), 'run', join(work, 'fastmcp-app', 'server.py')]) },
  { name: 'venv python server.py', profile: PYTHON_PROFILE, command: () => venvCommand('lowlevel', (dir) => [join(dir, 'bin', 'python'), join(work, 'lowlevel-app', 'server.py')]) },
];

/** The proxy's environment as a user's shell has it: no npm lifecycle variables, no node_modules/.bin on PATH, SANDBOX unset. */
function userEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { SANDBOX: undefined, HOME: home, AUTH_KEY: SECRET, XDG_CACHE_HOME: undefined, XDG_CONFIG_HOME: undefined, XDG_STATE_HOME: undefined };
  for (const name of Object.keys(process.env)) if (/^npm_/i.test(name)) env[name] = undefined;
  env.PATH = (process.env.PATH ?? '').split(':').filter((dir) => !dir.includes('node_modules/.bin')).join(':');
  return env;
}

async function readyz(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: await res.text() };
}

/** ms from spawn to /readyz 200, or the last /readyz answer when the deadline passed. */
async function waitReady(proxy: RunningProxy, startedAt: number, ms: number): Promise<{ ms: number } | { error: string }> {
  const deadline = startedAt + ms;
  let last = { status: 0, body: '' };
  while (Date.now() < deadline) {
    last = await readyz(proxy.url).catch((err: Error) => ({ status: 0, body: err.message }));
    if (last.status === 200) return { ms: Date.now() - startedAt };
    if (proxy.proc.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { error: `not ready after ${Date.now() - startedAt} ms: /readyz ${last.status} ${last.body.slice(0, 400)}` };
}

/**
 * One era against the proxy: every operation of the profile, each a pass or its error. The first
 * era of a start may wait for the child's first start (a cold `npx -y` install in independent mode).
 */
async function runEra(proxy: RunningProxy, era: Era, profile: Profile, connectMs: number, notReady: string | undefined): Promise<{ cells: Record<string, Cell>; connectedAt?: number }> {
  let client: FieldClient;
  try {
    client = await connectEra(era, proxy.url, { authorization: `Bearer ${SECRET}` }, connectMs);
  } catch (err) {
    const error = `connect: ${(err as Error).message.split('\n')[0]}`;
    return { cells: Object.fromEntries(OPERATIONS.map((op) => [op, { ok: false, error: notReady === undefined ? error : `${notReady}; ${error}` }])) };
  }
  const connectedAt = Date.now();
  try {
    return { cells: await runOperations(client, profile, SECRET), connectedAt };
  } finally {
    await withDeadline(client.close(), 10_000, 'client close').catch(() => {});
  }
}

/** The args of one row's proxy: `npm start`'s own for the npx row, the mode, a state dir, the registry for npm. */
function rowArgs(way: InstallWay, mode: Mode, command: string[], state: string, registry: NpmRegistry): string[] {
  const start = npmStartArgs();
  return [
    ...(way.isNpx === true ? start.slice(0, start.indexOf('--')) : []),
    ...(mode === 'independent' ? ['--no-shared'] : []),
    '--state-dir', state, '--env', `npm_config_registry=${registry.url}`, '--', ...command,
  ];
}

async function runRow(t: TestContext, way: InstallWay, mode: Mode): Promise<void> {
  const command = way.command();
  if (!Array.isArray(command)) {
    rows.push({ way: way.name, mode, era: '—', readyMs: undefined, connectedMs: undefined, note: `skipped: ${command.skip}`, cells: {} });
    return t.skip(command.skip);
  }
  const base = mkdtempSync(join(work, 'row-'));
  const [home, state] = [join(base, 'home'), join(base, 'state')];
  mkdirSync(home);
  const isNpx = way.isNpx === true;
  const registry = isNpx ? await startNpmRegistry(EVERYTHING_PKG, { tarballPaceMs: Math.ceil(COLD_FETCH_MS / fastRegistry.size) }) : fastRegistry;
  if (isNpx) t.after(() => registry.close());
  const args = rowArgs(way, mode, command, state, registry);
  const failures: string[] = [];
  // The npx row starts twice on one HOME and state dir: cold (the slow first fetch), then warm.
  for (const start of isNpx ? ['cold', 'warm'] as const : ['cold'] as const) {
    const startedAt = Date.now();
    // Counted from before the start: a shared child is handshaken (so installed) before it reads ready.
    const before = registry.stats();
    const proxy = await startProxy(args, { env: userEnv(home), readyMs: 30_000 });
    t.after(() => proxy.stop());
    const ready = await waitReady(proxy, startedAt, READY_MS[start]);
    const sandboxLine = /sandbox .*enforced="[^"]*"/.exec(proxy.logs())?.[0] ?? 'no sandbox line';
    if (!/filesystem=bwrap/.test(sandboxLine)) failures.push(`the defaults did not put the child under bubblewrap: ${sandboxLine}`);
    const notReady = 'error' in ready ? ready.error : undefined;
    const label = isNpx ? `${way.name}, ${start}` : way.name;
    // A row that never became ready is asked once, for the error a caller gets; a warm restart, once.
    const eras = notReady === undefined && start === 'cold' ? ERAS : ERAS.slice(0, 1);
    for (const [i, era] of eras.entries()) {
      const { cells, connectedAt } = await runEra(proxy, era, way.profile, i === 0 ? READY_MS[start] : 15_000, notReady);
      const fetched = registry.stats();
      const note = isNpx ? `registry: +${fetched.tarballs - before.tarballs} tarballs${start === 'cold' ? ` over ${fetched.spanMs} ms` : ''}` : undefined;
      rows.push({ way: label, mode, era, readyMs: 'ms' in ready ? ready.ms : undefined, connectedMs: connectedAt === undefined ? undefined : connectedAt - startedAt, note, cells });
      for (const [op, cell] of Object.entries(cells)) if (!cell.ok) failures.push(`${label} ${mode} ${era} ${op}: ${cell.error}`);
    }
    if (notReady !== undefined) failures.push(`${label} ${mode}: ${notReady}`);
    const fetched = registry.stats();
    if (isNpx && start === 'cold' && (fetched.tarballs < registry.size || fetched.spanMs < COLD_FETCH_MS)) {
      failures.push(`${label} ${mode}: the cold start did not fetch the whole closure slowly from the stand-in (${JSON.stringify(fetched)}, ${registry.size} versions)`);
    }
    // Which era the proxy chose for its child, per start: the matrix's rows differ by it (issue 22 items 1 and 6).
    const childEras = [...new Set([...proxy.logs().matchAll(/upstream protocol era=(\w+)/g)].map((m) => m[1]))].join('/') || 'not logged';
    for (const row of rows) if (row.way === label && row.mode === mode) row.note = [`child era: ${childEras}`, row.note].filter((n) => n !== undefined).join('; ');
    const childLines = proxy.logs().split('\n').filter((line) => /child|error/.test(line)).slice(-6);
    if (failures.length > 0) t.diagnostic(`${label} ${mode}, proxy log:\n${childLines.join('\n')}`);
    await proxy.stop();
  }
  assert.deepEqual(failures, [], `${way.name} × ${mode}:\n${failures.join('\n')}`);
}

before(async () => {
  const probe = await hostProbe();
  if (!probe.bwrap.ok) assert.fail(`the field matrix runs with the defaults, which need bubblewrap (apt-get install bubblewrap): ${probe.bwrap.reason}`);
  work = mkdtempSync(join(tmpdir(), 'mcpproxy-field-'));
  fastRegistry = await startNpmRegistry(EVERYTHING_PKG);
  for (const [dir, fixture] of [['fastmcp-app', 'field-fastmcp-server.py'], ['lowlevel-app', 'field-lowlevel-server.py']] as const) {
    mkdirSync(join(work, dir));
    copyFileSync(join(ROOT, 'test', 'fixtures', fixture), join(work, dir, 'server.py'));
  }
  // A local checkout as `npm install` lays it out (hoisted node_modules, .bin links), from the stand-in.
  const npmEnv = { ...process.env, npm_config_registry: fastRegistry.url, npm_config_cache: join(work, 'install-cache'), npm_config_update_notifier: 'false' };
  const [fastmcp, lowlevel] = await Promise.all([
    cachedVenv('fastmcp==4.0.10'),
    cachedVenv('mcp==2.3.0'),
    run('npm', ['install', '--prefix', join(work, 'srv'), '--no-audit', '--no-fund', `${EVERYTHING_PKG}@${EVERYTHING_VERSION}`], { env: npmEnv, timeout: 180_000 }),
  ]);
  venvs.fastmcp = fastmcp;
  venvs.lowlevel = lowlevel;
}, { timeout: 600_000 });

after(async () => {
  printMatrix(rows);
  await fastRegistry?.close();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

// Three rows at a time: a cold npx row spends most of its time waiting on the paced registry.
describe('field matrix', { concurrency: 3 }, () => {
  for (const way of WAYS) {
    for (const mode of MODES) {
      test(`${way.name} × ${mode}: ready, tools, sampling, elicitation, progress, logging, no secret in the child, per client era`, { timeout: 240_000 }, (t) => runRow(t, way, mode));
    }
  }
});
