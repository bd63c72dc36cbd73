// One mcpproxy --shared in front of the fixture for one phase of its own (the rate-limit and console
// phases): started, measured, stopped; if the phase throws, its rows not yet set are marked failed.
import { launch, type Running } from './peers.ts';
import { newCounts, recordError } from './phases.ts';
import type { Figures } from './report.ts';

/** Runs `body` against a fresh mcpproxy started with `access` flags (default `--no-auth`); rows are those whose key starts with `prefix`. */
export async function withOwnProxy(f: Figures, prefix: string, notes: string[], access: string[] | undefined,
  body: (run: Running) => Promise<void>): Promise<void> {
  let run: Running | undefined;
  try {
    run = await launch('mcpproxy', 'streamable', { independent: false, fixedPort: false, access });
    await body(run);
  } catch (err) {
    const c = newCounts();
    recordError(c, `${prefix} phase`, err);
    for (const fig of f.list) if (fig.key.startsWith(prefix) && fig.cells.mcpproxy === undefined) fig.cells.mcpproxy = { value: NaN, counts: c };
  } finally {
    const stop = await run?.stop();
    if (stop !== undefined && stop.leftBehind.length > 0) notes.push(`mcpproxy (${prefix} phase) left ${stop.leftBehind.length} process(es) after SIGTERM`);
  }
}
