/** The SDK 2.4 stateless server of test/fixtures/modern-http-server.mjs on a free loopback port, killed after the test. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { ROOT, withDeadline } from './proxy.ts';

const MODERN_HTTP = join(ROOT, 'test', 'fixtures', 'modern-http-server.mjs');

/** Starts the fixture; resolves with its port once it says it listens. */
export async function startModernRemote(t: TestContext): Promise<number> {
  const fixture = spawn(process.execPath, [MODERN_HTTP], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => void fixture.kill('SIGKILL'));
  return withDeadline(new Promise<number>((resolve) => {
    let seen = '';
    fixture.stderr!.on('data', (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      const match = /listening port=(\d+)/.exec(seen);
      if (match !== null) resolve(Number(match[1]));
    });
  }), 15_000, 'the modern HTTP fixture');
}
