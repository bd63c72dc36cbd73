// Tracing cost (issue 25: "under 10 % at ratio 1"): the same sequential echo through three mcpproxy
// --shared processes in one run: tracing off; on at ratio 1 (every span sampled, parent-based default)
// exporting to a local OTLP receiver in this process; on with a dead collector (a closed port: every
// export fails, spans are dropped and counted). CPU is the proxy process's, per timed call.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeAgent } from './client.ts';
import { StreamableSession } from './streamable-session.ts';
import { withOwnProxy } from './own-proxy.ts';
import { latency, type LatencyResult, type OpenSession } from './phases.ts';
import { HOST } from './processes.ts';
import type { Figures } from './report.ts';

export interface TracingSettings { warmup: number; tracingCalls: number }

const OPEN_TIMEOUT_MS = 10_000;
const RUNS = [
  { key: 'off', label: 'tracing off' },
  { key: 'on', label: 'tracing at ratio 1, local OTLP receiver' },
  { key: 'dead', label: 'tracing at ratio 1, dead collector' },
] as const;
type RunKey = (typeof RUNS)[number]['key'];
const MEASURES = [
  { key: 'p50', title: 'sequential call p50', unit: 'ms' },
  { key: 'cpu', title: 'CPU per sequential call (proxy process)', unit: 'µs' },
] as const;

export function defineTracingFigures(f: Figures): void {
  for (const { key, label } of RUNS) for (const m of MEASURES) f.add(`trc-${key}-${m.key}`, `${label}: ${m.title}`, m.unit, 'lower', 'streamable');
  f.add('trc-on-cpux', 'tracing at ratio 1: CPU per call, ÷ tracing off', '×', 'lower', 'streamable');
  f.add('trc-dead-cpux', 'tracing, dead collector: CPU per call, ÷ tracing off', '×', 'lower', 'streamable');
}

/** An OTLP/HTTP receiver that takes every export (200) and counts its bytes. */
async function receiver(): Promise<{ url: string; bytes: () => number; close: () => Promise<void> }> {
  let bytes = 0;
  const server = http.createServer((req, res) => {
    req.on('data', (chunk: Buffer) => { bytes += chunk.length; });
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return {
    url: `http://${HOST}:${(server.address() as AddressInfo).port}`,
    bytes: () => bytes,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** A port nothing listens on: bound, then closed. */
async function deadPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function timedRun(f: Figures, s: TracingSettings, key: RunKey, access: string[], notes: string[]): Promise<LatencyResult | undefined> {
  let result: LatencyResult | undefined;
  await withOwnProxy(f, `trc-${key}-`, notes, access, async (run) => {
    const agent = makeAgent();
    const open: OpenSession = () => StreamableSession.open(run.baseUrl, agent, OPEN_TIMEOUT_MS, run.mcpPath);
    try {
      result = await latency(open, s.warmup, s.tracingCalls, 300_000, { cpuPid: run.pid });
    } finally {
      agent.destroy();
    }
    for (const m of MEASURES) f.set(`trc-${key}-${m.key}`, 'streamable', 'mcpproxy', { value: m.key === 'p50' ? result.p50Ms : result.cpuUsPerCall, counts: result.counts });
  });
  return result;
}

export async function runTracingCost(f: Figures, s: TracingSettings, notes: string[], progress: (msg: string) => void): Promise<void> {
  progress('tracing: sequential echo with tracing off, at ratio 1 to a local receiver, and to a dead collector');
  const local = await receiver();
  try {
    const off = await timedRun(f, s, 'off', ['--no-auth'], notes);
    const on = await timedRun(f, s, 'on', ['--no-auth', '--otlp-endpoint', local.url], notes);
    const dead = await timedRun(f, s, 'dead', ['--no-auth', '--otlp-endpoint', `http://${HOST}:${await deadPort()}`], notes);
    notes.push(`Tracing: the local receiver took ${(local.bytes() / 1024).toFixed(0)} KiB of OTLP protobuf during the ratio-1 run.`);
    if (off !== undefined && on !== undefined) f.set('trc-on-cpux', 'streamable', 'mcpproxy', { value: on.cpuUsPerCall / off.cpuUsPerCall });
    if (off !== undefined && dead !== undefined) f.set('trc-dead-cpux', 'streamable', 'mcpproxy', { value: dead.cpuUsPerCall / off.cpuUsPerCall });
  } finally {
    await local.close();
  }
}
