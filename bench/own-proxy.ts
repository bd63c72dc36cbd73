// One mcpproxy --shared in front of the fixture for one phase of its own (the rate-limit and console
// phases): started, measured, stopped; if the phase throws, its rows not yet set are marked failed.
import { withLaunched, type Running } from './peers.ts';
import type { Figures } from './report.ts';

/** Runs `body` against a fresh mcpproxy started with `access` flags (default `--no-auth`); rows are those whose key starts with `prefix`. */
export async function withOwnProxy(f: Figures, prefix: string, notes: string[], access: string[] | undefined,
  body: (run: Running) => Promise<void>): Promise<void> {
  try {
    await withLaunched({ independent: false, fixedPort: false, access }, `(${prefix} phase)`, notes, body);
  } catch (err) {
    f.failUnset((key) => key.startsWith(prefix), `${prefix} phase`, err);
  }
}
