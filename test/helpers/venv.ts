/**
 * Python virtual environments as users make them (`python3 -m venv D && D/bin/pip install pkg==v`),
 * from this machine's package index (pip's own configuration), kept under os.tmpdir() between runs,
 * keyed by interpreter version and requirement. The one place tests get a venv with a package in it.
 *
 * A venv is reused only when its install finished: its marker file is written last. Venvs are not
 * relocatable (scripts name their interpreter by absolute path), so one is built in place, under a
 * lock (a directory made atomically) that concurrent test files building the same venv wait on, and
 * removed whole when a build fails.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MARKER = '.mcpproxy-complete';
/** One pip install from a local index takes ~15 s here; a cold wheel cache on a loaded machine, longer. */
export const VENV_BUILD_MS = 5 * 60_000;
/** A lock whose owner has not written its pid by then died between mkdir and write. */
const UNOWNED_LOCK_MS = 10_000;

/**
 * The system's Python, the one a server host's operator has (`apt-get install python3-venv`): its
 * venvs point at /usr/bin, which every sandbox shows. A pyenv or conda interpreter under /root or
 * /home is a different install way, not the one these tests use.
 */
export const SYSTEM_PYTHON = '/usr/bin/python3';

export type Venv = { dir: string } | { skip: string };

/**
 * pip's index arguments from `pip config list` output: the configured index (index-url, else the
 * first extra-index-url) as `--index-url`, the other extras as `--extra-index-url`, find-links as
 * `--find-links`, so pip never falls back to its default index, unreachable here. Settings from the
 * environment (`:env:`) win over `install` ones, which win over `global` ones, as in pip.
 * `undefined` when pip has no index and no find-links: it would only try the default index.
 */
export function pipIndexArgs(configList: string): string[] | undefined {
  const settings = new Map<string, { rank: number; value: string }>();
  const ranks: Record<string, number> = { ':env:': 3, install: 2, global: 1 };
  for (const line of configList.split('\n')) {
    const match = /^([^.=]+)\.([a-z-]+)='(.*)'$/.exec(line.trim());
    const rank = match === null ? undefined : ranks[match[1]!];
    if (rank === undefined || (settings.get(match![2]!)?.rank ?? 0) > rank) continue;
    settings.set(match![2]!, { rank, value: match![3]! });
  }
  // A value written over several lines is listed with its line breaks escaped: '\nurl-a\nurl-b'.
  const words = (key: string) => (settings.get(key)?.value ?? '').replaceAll('\\n', ' ').split(/\s+/).filter((word) => word !== '');
  const indexes = [...words('index-url'), ...words('extra-index-url')];
  const links = words('find-links').flatMap((link) => ['--find-links', link]);
  if (indexes.length === 0) return links.length === 0 ? undefined : ['--no-index', ...links];
  return ['--index-url', indexes[0]!, ...indexes.slice(1).flatMap((url) => ['--extra-index-url', url]), ...links];
}

const building = new Map<string, Promise<Venv>>();

/**
 * A venv of SYSTEM_PYTHON with `requirement` (e.g. `fastmcp==4.0.10`) installed. `{ skip }` only
 * when the package index cannot serve it (none configured, or pip: "No matching distribution");
 * any other failure throws.
 */
export function cachedVenv(requirement: string): Promise<Venv> {
  let pending = building.get(requirement);
  if (pending === undefined) {
    pending = buildVenv(requirement);
    building.set(requirement, pending);
  }
  return pending;
}

async function buildVenv(requirement: string): Promise<Venv> {
  if (!existsSync(SYSTEM_PYTHON)) throw new Error(`${SYSTEM_PYTHON} is missing: apt-get install python3 python3-venv`);
  const { stdout } = await run(SYSTEM_PYTHON, ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])']);
  const root = join(tmpdir(), 'mcpproxy-venvs');
  const dir = join(root, `py${stdout.trim()}-${requirement.replace(/[^A-Za-z0-9.=_-]/g, '_')}`);
  if (existsSync(join(dir, MARKER))) return { dir };
  mkdirSync(root, { recursive: true });
  const unlock = await lock(`${dir}.lock`);
  try {
    if (existsSync(join(dir, MARKER))) return { dir };
    return await install(dir, requirement);
  } finally {
    unlock();
  }
}

/** Holds `path` (a directory) until the returned function is called; waits while a live process holds it. */
async function lock(path: string): Promise<() => void> {
  const deadline = Date.now() + VENV_BUILD_MS + 60_000;
  for (;;) {
    try {
      mkdirSync(path);
      writeFileSync(join(path, 'pid'), `${process.pid}\n`);
      return () => rmSync(path, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (lockIsStale(path)) rmSync(path, { recursive: true, force: true });
    else if (Date.now() > deadline) throw new Error(`${path} is still held after ${VENV_BUILD_MS + 60_000} ms (pid ${readPid(path)})`);
    else await delay(250);
  }
}

function readPid(path: string): number | undefined {
  try {
    return Number.parseInt(readFileSync(join(path, 'pid'), 'utf8'), 10);
  } catch {
    return undefined;
  }
}

function lockIsStale(path: string): boolean {
  const pid = readPid(path);
  if (pid === undefined) {
    try {
      return Date.now() - statSync(path).mtimeMs > UNOWNED_LOCK_MS;
    } catch {
      return false; // released meanwhile: the next mkdir takes it
    }
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function install(dir: string, requirement: string): Promise<Venv> {
  rmSync(dir, { recursive: true, force: true });
  try {
    await run(SYSTEM_PYTHON, ['-m', 'venv', dir], { timeout: 60_000 });
    const pip = join(dir, 'bin', 'pip');
    const index = pipIndexArgs((await run(pip, ['config', 'list'], { timeout: 30_000 })).stdout);
    if (index === undefined) {
      rmSync(dir, { recursive: true, force: true });
      return { skip: `no Python package index is configured for pip here (pip config list has no index-url, extra-index-url or find-links), so ${requirement} cannot be installed without the default index` };
    }
    // --retries 0 and a short timeout: an index that does not answer fails at once instead of
    // five retries per package.
    await run(pip, ['install', '--quiet', '--disable-pip-version-check', '--retries', '0', '--timeout', '10', ...index, requirement], { timeout: VENV_BUILD_MS, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const text = `${(err as { stderr?: string }).stderr ?? ''}${(err as Error).message}`;
    if (/No matching distribution found|Could not find a version that satisfies/.test(text)) {
      return { skip: `the Python package index here cannot serve ${requirement} (pip: ${text.split('\n').find((l) => /ERROR/.test(l)) ?? 'no matching distribution'}); configure pip (pip config list) to run this test` };
    }
    if (/No module named venv|ensurepip is not available/.test(text)) throw new Error(`${SYSTEM_PYTHON} cannot make a venv: apt-get install python3-venv (${text.slice(0, 300)})`);
    throw new Error(`venv with ${requirement} failed: ${text.slice(-2000)}`);
  }
  writeFileSync(join(dir, MARKER), `${requirement}\n`);
  return { dir };
}
