/**
 * Test harness: the built binary on a free loopback port, ready when it logs `listening`,
 * plus SDK clients over both transports. Every wait has a deadline; stop() leaves no process behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BINARY = join(ROOT, 'dist', 'mcpproxy');
export const FIXTURE = join(ROOT, 'test', 'fixtures', 'fault-server.mjs');
export const EVERYTHING = join(ROOT, 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');
export const MEMORY = join(ROOT, 'node_modules', '@modelcontextprotocol', 'server-memory', 'dist', 'index.js');

export interface RunningProxy {
  url: string;
  port: number;
  proc: ChildProcess;
  /** Everything the proxy wrote to stderr so far. */
  logs(): string;
  /** Resolves when a log line matches `pattern` (or rejects after `ms`). */
  waitForLog(pattern: RegExp, ms?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after `ms`; resolves with the exit code/signal. */
  stop(ms?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts dist/mcpproxy with `args` (host and port are added unless given). The sandbox is off unless
 * `args` or `env` ask for it: these tests watch fixtures' pids, signals and host paths, which a pid
 * namespace, bwrap's exit codes and a private /tmp change; test/sandbox-*.test.ts test the sandbox.
 */
export async function startProxy(args: string[], options: { env?: NodeJS.ProcessEnv; readyMs?: number } = {}): Promise<RunningProxy> {
  const full = [...(args.includes('--host') ? [] : ['--host', '127.0.0.1']), ...(args.includes('--port') ? [] : ['--port', '0']), ...args];
  // No drain delay unless a test asks for one: it would add 5 s to every stop(); test/drain.test.ts sets it.
  const proc = spawn(BINARY, full, { env: { SANDBOX: 'off', DRAIN_DELAY: '0', ...process.env, ...options.env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const waiters = new Set<() => void>();
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
    for (const wake of waiters) wake();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      for (const wake of waiters) wake();
      resolve({ code, signal });
    });
  });
  const waitForLog = (pattern: RegExp, ms = 15_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const match = pattern.exec(stderr);
        if (match !== null) return done(() => resolve(match[0]));
        if (proc.exitCode !== null || proc.signalCode !== null) done(() => reject(new Error(`proxy exited before ${pattern}:\n${stderr}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no log line ${pattern} within ${ms} ms:\n${stderr}`))), ms);
      const done = (fn: () => void): void => {
        clearTimeout(timer);
        waiters.delete(check);
        fn();
      };
      waiters.add(check);
      check();
    });
  let port: number;
  try {
    const line = await waitForLog(/listening .*port=(\d+)/, options.readyMs ?? 15_000);
    port = Number(/port=(\d+)/.exec(line)![1]);
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    proc,
    logs: () => stderr,
    waitForLog,
    async stop(ms = 10_000) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), ms);
        const result = await exited;
        clearTimeout(timer);
        return result;
      }
      return exited;
    },
  };
}

export type TransportKind = 'sse' | 'streamable';

/** An SDK client connected over `kind`; `query` is appended to the endpoint URL. */
export async function connectClient(
  base: string,
  kind: TransportKind,
  options: { query?: string; headers?: Record<string, string>; capabilities?: Record<string, unknown>; name?: string; connectMs?: number } = {},
): Promise<{ client: Client; transport: SSEClientTransport | StreamableHTTPClientTransport }> {
  const query = options.query === undefined ? '' : `?${options.query}`;
  const requestInit = options.headers === undefined ? undefined : { headers: options.headers };
  const transport = kind === 'sse'
    ? new SSEClientTransport(new URL(`${base}/sse${query}`), { requestInit, eventSourceInit: options.headers === undefined ? undefined : { fetch: (url, init) => fetch(url, { ...init, headers: { ...(init?.headers as Record<string, string>), ...options.headers } }) } })
    : new StreamableHTTPClientTransport(new URL(`${base}/mcp${query}`), { requestInit });
  const client = new Client({ name: options.name ?? 'mcpproxy-test', version: '1.0.0' }, { capabilities: options.capabilities ?? {} });
  try {
    await withDeadline(client.connect(transport), options.connectMs ?? 15_000, `connect over ${kind}`);
  } catch (err) {
    await transport.close(); // an SSE transport left open would keep reconnecting, and the test process alive
    throw err;
  }
  return { client, transport };
}

/** Rejects if `promise` has not settled within `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); }),
  ]);
}

/** The text of a tools/call result's first content item. */
export function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content;
  return content?.[0]?.text ?? '';
}

/** True while a process with `pid` exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` every 50 ms until it returns true, or rejects after `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not true within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
