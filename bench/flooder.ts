// The flooding principal of the rate-limit phase (bench/rate-limit.ts), in a process of its own so
// its loops never share an event loop with the quiet client being timed. Its sessions call `echo` as
// fast as they can, ignoring Retry-After as a hostile client would, until stdin ends; then it writes
// one JSON line of counts and exits.
// usage: node --import tsx bench/flooder.ts <baseUrl> <clients>  (Authorization value in BENCH_FLOOD_AUTH)
import { BenchError, makeAgent } from './client.ts';
import { StreamableSession } from './streamable-session.ts';
import { closeAll, echo, newCounts, openMany, recordError, type Counts } from './phases.ts';

/** What the flooder writes when it stops: `counts.ok` are its admitted, right replies. */
export interface FloodReport {
  refused: number;
  elapsedMs: number;
  counts: Counts;
}

const OPEN_TIMEOUT_MS = 10_000;

async function main(): Promise<void> {
  const [baseUrl, clients] = process.argv.slice(2);
  const authorization = process.env.BENCH_FLOOD_AUTH;
  if (baseUrl === undefined || clients === undefined || authorization === undefined) throw new Error('usage: flooder.ts <baseUrl> <clients>');
  const agent = makeAgent();
  const c = newCounts();
  let refused = 0;
  let isFlooding = true;
  process.stdin.on('end', () => { isFlooding = false; }).resume();
  const sessions = await openMany(() => StreamableSession.open(baseUrl, agent, OPEN_TIMEOUT_MS, '/mcp', authorization),
    Number(clients), 16, 60_000, c);
  process.stdout.write('flooding\n');
  const t0 = performance.now();
  await Promise.all(sessions.map(async (s, i) => {
    for (let n = 0; isFlooding; n++) {
      try {
        await echo(s, `flood-${i}-${n}`, c);
      } catch (err) {
        if ((err as BenchError).code === 'BENCH_REFUSED') refused++;
        else return recordError(c, `flooder ${i} call ${n}`, err);
      }
    }
  }));
  const report: FloodReport = { refused, elapsedMs: performance.now() - t0, counts: c };
  await closeAll(sessions, c);
  agent.destroy();
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`[flooder] ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
