/**
 * Python virtual environments as users make them (`python3 -m venv D && D/bin/pip install pkg==v`),
 * from this machine's package index (pip's own configuration), kept under os.tmpdir() between runs,
 * keyed by interpreter and requirement. A venv is reused only when its install finished: its marker
 * file is written last. Venvs are not relocatable (scripts name their interpreter by absolute path),
 * so one is built in place and removed whole when a build fails.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MARKER = '.mcpproxy-complete';
/** One pip install from a local index takes ~15 s here; a cold wheel cache on a loaded machine, longer. */
const INSTALL_MS = 5 * 60_000;

/**
 * The system's Python, the one a server host's operator has (`apt-get install python3-venv`): its
 * venvs point at /usr/bin, which every sandbox shows. A pyenv or conda interpreter under /root or
 * /home is a different install way, not the one these rows test.
 */
export const SYSTEM_PYTHON = '/usr/bin/python3';

export type Venv = { dir: string } | { skip: string };

const building = new Map<string, Promise<Venv>>();

/**
 * A venv with `requirement` (e.g. `fastmcp==4.0.10`) installed. `{ skip }` only when the package
 * index does not have it (pip: "No matching distribution"); any other failure throws.
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
  const { stdout } = await run(SYSTEM_PYTHON, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']);
  const dir = join(tmpdir(), 'mcpproxy-venvs', `py${stdout.trim()}-${requirement.replace(/[^A-Za-z0-9.=_-]/g, '_')}`);
  if (existsSync(join(dir, MARKER))) return { dir };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    await run(SYSTEM_PYTHON, ['-m', 'venv', dir], { timeout: 60_000 });
    // --retries 0: where the configured index is a local mirror and the default index is unreachable,
    // pip would otherwise retry the unreachable one five times per package.
    await run(join(dir, 'bin', 'pip'), ['install', '--quiet', '--retries', '0', requirement], { timeout: INSTALL_MS, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const text = `${(err as { stderr?: string }).stderr ?? ''}${(err as Error).message}`;
    if (/No matching distribution found|Could not find a version that satisfies/.test(text)) {
      return { skip: `no Python package index with ${requirement} here (pip: ${text.split('\n').find((l) => /ERROR/.test(l)) ?? 'no matching distribution'}); configure pip (pip config list) to run this row` };
    }
    if (/No module named venv|ensurepip is not available/.test(text)) throw new Error(`${SYSTEM_PYTHON} cannot make a venv: apt-get install python3-venv (${text.slice(0, 300)})`);
    throw new Error(`venv with ${requirement} failed: ${text.slice(-2000)}`);
  }
  writeFileSync(join(dir, MARKER), `${requirement}\n`);
  return { dir };
}
