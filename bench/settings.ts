// What one bench run measures and for how long: the full run, and --quick (CI's smoke check).
import type { MultiSettings } from './multi-server.ts';
import type { ReplicaSettings } from './replicas.ts';
import type { RemoteSettings } from './remote-member.ts';
import type { FairnessSettings } from './rate-limit.ts';
import type { ConsoleSettings } from './console-cost.ts';
import type { TracingSettings } from './tracing-cost.ts';

export interface Settings extends MultiSettings, ReplicaSettings, RemoteSettings, FairnessSettings, ConsoleSettings, TracingSettings {
  warmup: number;
  calls: number;
  clients: number[];
  durationMs: number;
  bigBytes: number;
  bigReps: number;
  idleSteps: number[];
  independentReps: number;
  execReps: number;
  watchdogMs: number;
}

export const FULL: Settings = {
  warmup: 2_000, calls: 2_000, clients: [32, 256], durationMs: 5_000, bigBytes: 4 * 1024 * 1024, bigReps: 3,
  idleSteps: [1_000, 10_000], independentReps: 10, execReps: 5, watchdogMs: 30 * 60_000,
  listCalls: 500, lazyServers: 20, eagerServers: 10,
  replicaCounts: [1, 2, 4], replicaClients: 16, blockMs: 10, replicaDurationMs: 3_000, remoteClients: 32,
  fairWarmup: 200, fairCalls: 1_000, fairGapMs: 5, fairLimitPerS: 400, floodClients: 32, consoleCalls: 10_000, tracingCalls: 10_000,
};
export const QUICK: Settings = {
  warmup: 20, calls: 200, clients: [32], durationMs: 2_000, bigBytes: 4 * 1024 * 1024, bigReps: 1,
  idleSteps: [100], independentReps: 2, execReps: 1, watchdogMs: 6 * 60_000,
  listCalls: 50, lazyServers: 20, eagerServers: 10,
  replicaCounts: [1, 2, 4], replicaClients: 16, blockMs: 10, replicaDurationMs: 1_000, remoteClients: 32,
  fairWarmup: 5, fairCalls: 50, fairGapMs: 20, fairLimitPerS: 100, floodClients: 8, consoleCalls: 200, tracingCalls: 200,
};
