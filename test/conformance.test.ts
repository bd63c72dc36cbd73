/**
 * The official MCP conformance suite's server scenarios, run against the proxy's Streamable HTTP
 * endpoint with test/fixtures/conformance-server.mjs behind it: every request, reply, notification
 * and server-to-client request of the suite crosses the proxy, and the DNS-rebinding scenario checks
 * the proxy's own Host and Origin handling. Both modes: shared (one cached handshake, every session's
 * calls and the child's requests routed on one child) and independent (a child per scenario's session).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runServerSuite, type SuiteRun } from './helpers/conformance.ts';
import { ROOT, startProxy } from './helpers/proxy.ts';

const TARGET = join(ROOT, 'test', 'fixtures', 'conformance-server.mjs');
/** @modelcontextprotocol/conformance 0.1.16's active server suite: its 32 but the 2 it marks pending. */
const ACTIVE_SCENARIOS = 30;
/** The suite takes seconds; the margin is for a loaded CI machine, not for a slow proxy. */
const SUITE_TIMEOUT_MS = 150_000;

for (const mode of ['--shared', '--no-shared'] as const) {
  test(`conformance (${mode}): the official server scenarios pass through the proxy`, { timeout: SUITE_TIMEOUT_MS + 30_000 }, async (t) => {
    const proxy = await startProxy([mode, '--', process.execPath, TARGET]);
    t.after(() => proxy.stop());
    const run = await runServerSuite(`${proxy.url}/mcp`, SUITE_TIMEOUT_MS);

    const failed = failures(run);
    assert.deepEqual(failed, [], `failing scenarios:\n${JSON.stringify(failed, null, 2)}\n${run.output}`);
    assert.equal(run.planned, ACTIVE_SCENARIOS, `the suite planned ${run.planned} scenarios:\n${run.output}`);
    assert.equal(new Set(run.scenarios.map((s) => s.scenario)).size, ACTIVE_SCENARIOS, `scenarios with results: ${run.scenarios.map((s) => s.scenario).join(', ')}\n${run.output}`);
    assert.equal(run.exitCode, 0, run.output);
    const checks = run.scenarios.flatMap((s) => s.checks).filter((c) => c.status === 'SUCCESS').length;
    t.diagnostic(`${run.scenarios.length} scenarios, ${checks} checks passed, 0 failed`);
  });
}

/** Scenarios with a failed check, or with no passed check at all (a scenario that proved nothing). */
function failures(run: SuiteRun): Array<{ scenario: string; failed: unknown[] }> {
  return run.scenarios
    .filter(({ checks }) => checks.some((c) => c.status === 'FAILURE') || !checks.some((c) => c.status === 'SUCCESS'))
    .map(({ scenario, checks }) => ({
      scenario,
      failed: checks.filter((c) => c.status !== 'SUCCESS').map(({ id, status, errorMessage, details }) => ({ id, status, errorMessage, details })),
    }));
}
