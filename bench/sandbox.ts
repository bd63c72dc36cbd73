// node --import tsx bench/sandbox.ts [--reps N] [--calls N]
//
// What the agent sandbox costs (docs/SANDBOX.md): a child's start (spawn to its initialize reply)
// without a sandbox and under this host's full plan (sh wrapper, cgroup when delegated, bubblewrap),
// and an echo round trip through the running child in both (expected equal: the pipes are the same).
// Children are the fault fixture; nothing leaves the machine.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Logger } from '../src/observe/log.ts';
import type { JsonRpcMessage } from '../src/protocol/message.ts';
import { Child } from '../src/upstream/child.ts';
import { prepareSandboxHost } from '../src/upstream/sandbox/host.ts';
import { prepareHome, type SandboxRun } from '../src/upstream/sandbox/launch.ts';
import { DEFAULT_SANDBOX_SPEC } from '../src/upstream/sandbox/options.ts';
import { buildPlan, describePlan } from '../src/upstream/sandbox/plan.ts';
import { FIXTURE } from './peers.ts';
import { median } from './phases.ts';

const { values } = parseArgs({ options: { reps: { type: 'string', default: '15' }, calls: { type: 'string', default: '500' } } });
const reps = Number(values.reps);
const calls = Number(values.calls);
const log = new Logger('error', 'text', process.stderr);

/** Starts one child, times spawn → initialize reply, then `calls` sequential echo round trips; stops it. */
async function measure(sandbox: SandboxRun | undefined, echoes: number): Promise<{ startMs: number; callUs: number }> {
  const waiting = new Map<number, () => void>();
  const child = new Child({
    command: process.execPath, args: [FIXTURE], env: { PATH: process.env.PATH ?? '' }, maxMessageBytes: 1 << 20,
    maxStdinQueueBytes: 1 << 22, stopGraceMs: 1000, log, sandbox,
  }, {
    message: (msg: JsonRpcMessage) => { if ('id' in msg && typeof msg.id === 'number') waiting.get(msg.id)?.(); },
    exit: () => {},
  });
  const ask = (id: number, method: string, params: Record<string, unknown>): Promise<void> => new Promise((resolve) => {
    waiting.set(id, resolve);
    child.send({ jsonrpc: '2.0', id, method, params });
  });
  const started = performance.now();
  await ask(0, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } });
  const startMs = performance.now() - started;
  const callsStarted = performance.now();
  for (let i = 1; i <= echoes; i++) await ask(i, 'tools/call', { name: 'echo', arguments: { text: 'x' } });
  const callUs = echoes === 0 ? NaN : ((performance.now() - callsStarted) * 1000) / echoes;
  await child.stop();
  return { startMs, callUs };
}

const host = await prepareSandboxHost({});
const plan = buildPlan({ ...DEFAULT_SANDBOX_SPEC, mode: 'auto' }, host)!;
const state = mkdtempSync(join(tmpdir(), 'mcpproxy-bench-sandbox-'));
const sandbox: SandboxRun = { plan, home: prepareHome(state, 'bench', plan.runAs), readOnly: [join(import.meta.dirname, '..')] };
console.log(`sandbox plan here: ${describePlan(plan).enforced}`);
try {
  for (const [name, run] of [['no sandbox', undefined], ['sandbox', sandbox]] as const) {
    await measure(run, 10); // warm the page cache and node's compile cache
    const starts: number[] = [];
    for (let i = 0; i < reps; i++) starts.push((await measure(run, 0)).startMs);
    const { callUs } = await measure(run, calls);
    starts.sort((a, b) => a - b);
    console.log(`${name.padEnd(10)}  child start median ${median(starts).toFixed(1)} ms (min ${starts[0]!.toFixed(1)}, max ${starts.at(-1)!.toFixed(1)}, n=${reps})  echo round trip ${callUs.toFixed(0)} µs (n=${calls})`);
  }
} finally {
  rmSync(state, { recursive: true, force: true });
}
