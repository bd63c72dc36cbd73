// Replica scaling: one shared stdio member with `replicas: N` running the fixture's `block` tool,
// which stops the whole child for blockMs without using CPU, so one child serves one call at a time
// (a server with blocking tools). With more calls in flight than replicas, correct replies per second
// should grow with N. Blocking, not CPU work: on 2 cores a CPU-bound child caps the pool near 2×.
import { makeAgent } from './client.ts';
import { StreamableSession } from './streamable-session.ts';
import { FIXTURE, type Running } from './peers.ts';
import { checkedCall, newCounts, recordError, throughput, type TextCall } from './phases.ts';
import type { Cell, Figures } from './report.ts';
import { pollStatus, withServersFile } from './servers-file.ts';

export interface ReplicaSettings {
  replicaCounts: number[];
  /** Sessions calling `block` at once, each one call at a time. */
  replicaClients: number;
  blockMs: number;
  replicaDurationMs: number;
}

const POOL = 'pool';
const OPEN_TIMEOUT_MS = 10_000;

export function defineReplicaFigures(f: Figures, s: ReplicaSettings): void {
  for (const n of s.replicaCounts) {
    f.add(`rep${n}`, `replicas ${n}: correct replies/s, ${s.replicaClients} clients, block ${s.blockMs} ms`, '1/s', 'higher', 'streamable');
  }
  for (const n of s.replicaCounts.slice(1)) f.add(`rep${n}x`, `replicas ${n} ÷ replicas ${s.replicaCounts[0]}, correct replies/s`, '×', 'higher', 'streamable');
}

export function replicaKeys(s: ReplicaSettings): string[] {
  return [...s.replicaCounts.map((n) => `rep${n}`), ...s.replicaCounts.slice(1).map((n) => `rep${n}x`)];
}

/** The member ready with all `n` replicas up (a pool of one has no replica list). */
function waitUp(run: Running, n: number): Promise<true> {
  return pollStatus(run, `${n} replicas up`, (servers) => {
    const unit = servers.find((x) => x.name === POOL);
    const up = unit?.replicas === undefined ? (unit?.state === 'ready' ? 1 : 0) : unit.replicas.filter((r) => r.up).length;
    return up === n ? true : undefined;
  });
}

/** `block` answers `<pid>:<text>`: right when the text is this call's own (the pid is the sandbox's, alike in every replica). */
function blockCall(blockMs: number): TextCall {
  return (session, text, c) => checkedCall(session, 'block', { ms: blockMs, text }, (got) => typeof got === 'string' && got.endsWith(`:${text}`) && /^\d+:/.test(got), c);
}

async function measurePool(s: ReplicaSettings, n: number, notes: string[]): Promise<Cell> {
  const member = { command: process.execPath, args: [FIXTURE], mode: 'shared', lifecycle: 'eager', replicas: n };
  return withServersFile({ [POOL]: member }, `replicas ${n}`, notes, async (run) => {
    await waitUp(run, n);
    const agent = makeAgent();
    try {
      const open = () => StreamableSession.open(run.baseUrl, agent, OPEN_TIMEOUT_MS, `/servers/${POOL}/mcp`);
      const r = await throughput(open, s.replicaClients, s.replicaDurationMs, 60_000, blockCall(s.blockMs));
      return { value: r.perSecond, counts: r.counts };
    } finally {
      agent.destroy();
    }
  });
}

/** Each pool size in its own proxy, one after the other; then the ratios to the first. */
export async function runReplicas(f: Figures, s: ReplicaSettings, notes: string[], progress: (msg: string) => void): Promise<void> {
  const cells = new Map<number, Cell>();
  for (const n of s.replicaCounts) {
    progress(`mcpproxy --config: replicas ${n}, ${s.replicaClients} clients calling block ${s.blockMs} ms`);
    let cell: Cell;
    try {
      cell = await measurePool(s, n, notes);
    } catch (err) {
      cell = { value: NaN, counts: newCounts() };
      recordError(cell.counts!, `replicas ${n}`, err);
    }
    cells.set(n, cell);
    f.set(`rep${n}`, 'streamable', 'mcpproxy', cell);
  }
  const base = cells.get(s.replicaCounts[0]!)?.value ?? NaN;
  for (const n of s.replicaCounts.slice(1)) {
    f.set(`rep${n}x`, 'streamable', 'mcpproxy', { value: (cells.get(n)?.value ?? NaN) / base });
  }
}
