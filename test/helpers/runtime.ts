/** build.mjs's Node runtime for this machine: the one the binary embeds, from the npm registry. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './proxy.ts';

/** A first fetch downloads about 30 MB from the npm registry; later calls read build.mjs's cache. */
const FETCH_TIMEOUT_MS = 10 * 60_000;

/** Path of the plain `node` binary build.mjs caches (fetched if missing); its version is build.mjs's RUNTIME_VERSION. */
export function buildRuntime(): string {
  const r = spawnSync(process.execPath, [join(ROOT, 'build.mjs'), '--runtime-path'], { encoding: 'utf8', timeout: FETCH_TIMEOUT_MS });
  if (r.status !== 0) throw new Error(`node build.mjs --runtime-path failed (${r.error?.message ?? r.signal ?? `exit ${r.status}`}):\n${r.stderr}`);
  return r.stdout.trim();
}
