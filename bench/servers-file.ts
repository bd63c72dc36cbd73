// mcpproxy started on a servers file (--config) written for one phase, and its /status: what the
// multi-server, replica and remote-member phases share.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { BenchError } from './client.ts';
import { withLaunched, type Running } from './peers.ts';
import { sleep } from './processes.ts';

const STATUS_DEADLINE_MS = 60_000;

export interface ServerStatus {
  name: string;
  state: string;
  pids?: number[];
  children?: number;
  counts?: { tools: number };
  replicas?: Array<{ up: boolean }>;
}

export function getStatus(run: Running): Promise<ServerStatus[]> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${run.baseUrl}/status`, { agent: false, timeout: 5_000 }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        try {
          if (res.statusCode !== 200) throw new BenchError('BENCH_HTTP_STATUS', `GET /status: ${res.statusCode}`);
          resolve((JSON.parse(Buffer.concat(parts).toString('utf8')) as { servers: ServerStatus[] }).servers);
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('timeout', () => req.destroy(new BenchError('BENCH_TIMEOUT', 'GET /status: no answer')));
    req.on('error', reject);
  });
}

/**
 * Writes `{ mcpServers }` into a fresh directory, runs mcpproxy --config on it for `body`, then stops
 * it (a process left behind is noted under `label`) and removes the directory.
 */
export async function withServersFile<T>(mcpServers: Record<string, unknown>, label: string, notes: string[],
  body: (run: Running) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mcpproxy-bench-'));
  try {
    const file = path.join(dir, 'servers.json');
    writeFileSync(file, JSON.stringify({ mcpServers }, null, 2));
    return await withLaunched({ independent: false, fixedPort: false, configFile: file }, `--config (${label})`, notes, body);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Polls /status every 100 ms until `settled` returns a value; throws past the deadline, saying what was awaited. */
export async function pollStatus<T>(run: Running, what: string, settled: (servers: ServerStatus[]) => T | undefined): Promise<T> {
  const deadline = performance.now() + STATUS_DEADLINE_MS;
  for (;;) {
    const value = settled(await getStatus(run));
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new BenchError('BENCH_TIMEOUT', `not ${what} after ${STATUS_DEADLINE_MS} ms`);
    await sleep(100);
  }
}

/**
 * Every member ready with its tools counted; the total number of tools. A count of 0 is not taken:
 * under load /status once showed a ready member with an empty catalog that filled a moment later.
 */
export function waitListed(run: Running, members: number): Promise<number> {
  return pollStatus(run, `${members} members listed`, (servers) => {
    const listed = servers.filter((x) => x.state === 'ready' && (x.counts?.tools ?? 0) > 0);
    return listed.length === members ? listed.reduce((n, x) => n + (x.counts?.tools ?? 0), 0) : undefined;
  });
}
