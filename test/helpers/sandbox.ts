/** Shared by the sandbox tests: the host probe once, and skip-or-fail when a tool is missing. */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { probeHost, type HostProbe } from '../../src/upstream/sandbox/probe.ts';

let probe: Promise<HostProbe> | undefined;

export function hostProbe(): Promise<HostProbe> {
  probe ??= probeHost({ user: 'nobody' });
  return probe;
}

/**
 * True when bwrap works here. Otherwise the test is skipped with the reason, except under CI=true,
 * where a missing bwrap means the CI script lost its install step and the test fails.
 */
export async function needBwrap(t: TestContext): Promise<boolean> {
  const { bwrap } = await hostProbe();
  if (bwrap.ok) return true;
  if (process.env.CI === 'true') assert.fail(`bubblewrap is required under CI: ${bwrap.reason}`);
  t.skip(`bubblewrap not usable (${bwrap.reason}); apt-get install bubblewrap`);
  return false;
}
