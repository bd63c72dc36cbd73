// The benchmark's --quick smoke check against mcpproxy alone: every figure is produced and no reply
// is wrong. No timing is asserted here; the figures themselves live in `npm run bench`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = process.env.MCPPROXY_BIN ?? path.join(ROOT, 'dist/mcpproxy');

test('bench --quick --only mcpproxy exits 0', { skip: !existsSync(BIN) && `${BIN} not built`, timeout: 240_000 }, async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--only', 'mcpproxy'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // bench/run.ts kills everything it started on SIGTERM; SIGKILL only if it does not go.
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { output += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { output += d; });
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  assert.equal(code, 0, `bench --quick failed:\n${output.slice(-6000)}`);
});
