/**
 * A well-behaved client that keeps calling `echo` while a test attacks the proxy: every answer must be
 * its own text. stop() ends the loop and says how many calls were right, wrong or failed.
 */
import { connectClient, textOf, withDeadline } from './proxy.ts';

export interface BystanderCounts { ok: number; wrong: number; failed: number }

export async function startBystander(base: string, headers?: Record<string, string>): Promise<{ stop(): Promise<BystanderCounts> }> {
  const { client } = await connectClient(base, 'streamable', { name: 'bystander', ...(headers === undefined ? {} : { headers }) });
  const counts: BystanderCounts = { ok: 0, wrong: 0, failed: 0 };
  let running = true;
  const loop = (async () => {
    for (let n = 0; running; n++) {
      const text = `bystander-${n}`;
      try {
        const result = await withDeadline(client.callTool({ name: 'echo', arguments: { text } }), 10_000, 'bystander echo');
        if (textOf(result) === text) counts.ok++;
        else counts.wrong++;
      } catch {
        counts.failed++;
        if (counts.failed >= 20) break; // the proxy is gone: stop rather than spin
      }
    }
  })();
  let stopped: Promise<BystanderCounts> | undefined;
  return {
    /** Idempotent: a test's t.after() may call it again. */
    stop() {
      running = false;
      stopped ??= loop.then(() => client.close()).then(() => counts);
      return stopped;
    },
  };
}
