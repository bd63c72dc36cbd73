// Starting and stopping each benchmark target (mcpproxy and its peers) around the same upstream:
// test/fixtures/fault-server.mjs. Every process started here is registered (bench/processes.ts) so it
// can be killed on any exit path, and stop() reports children a target left behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchError } from './client.ts';
import { HOST, descendants, freePort, sleep, track, rememberStrays, forgetStrays, isAlive } from './processes.ts';

/** `floor` (bench/floor-proxy.mjs) always runs, like the direct baseline; the others can be picked with --only. */
export type TargetName = 'floor' | 'mcpproxy' | 'supergateway' | 'mcp-proxy';
export type Transport = 'sse' | 'streamable';
export const TARGET_NAMES: readonly TargetName[] = ['mcpproxy', 'supergateway', 'mcp-proxy'];
export const TRANSPORTS: readonly Transport[] = ['sse', 'streamable'];

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURE = path.join(ROOT, 'test/fixtures/fault-server.mjs');
const SUPERGATEWAY = path.join(ROOT, 'node_modules/supergateway/dist/index.js');
const MCP_PROXY = path.join(ROOT, 'node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs');
const FLOOR = path.join(ROOT, 'bench/floor-proxy.mjs');
const RUNTIME_CACHE = process.env.MCPPROXY_CACHE_DIR ?? path.join(ROOT, '.cache/runtime');
const TAIL_LINES = 40;

export function mcpproxyBin(): string {
  return process.env.MCPPROXY_BIN ?? path.join(ROOT, 'dist/mcpproxy');
}
export function mcpproxyBuilt(): boolean {
  return existsSync(mcpproxyBin());
}

/**
 * The Node that runs the floor: MCPPROXY_FLOOR_NODE, else the newest runtime `npm run build` cached
 * for the binary (so floor and mcpproxy run on the same Node), else the bench's own.
 */
export function floorNode(): string {
  if (process.env.MCPPROXY_FLOOR_NODE !== undefined) return process.env.MCPPROXY_FLOOR_NODE;
  const name = new RegExp(`^node-v(\\d+)\\.(\\d+)\\.(\\d+)-linux-${process.arch}$`);
  let best: { file: string; v: number } | undefined;
  try {
    for (const entry of readdirSync(RUNTIME_CACHE)) {
      const m = name.exec(entry);
      if (m === null) continue;
      const v = Number(m[1]) * 1e6 + Number(m[2]) * 1e3 + Number(m[3]);
      if (best === undefined || v > best.v) best = { file: path.join(RUNTIME_CACHE, entry), v };
    }
  } catch { /* no cache: fall back */ }
  return best?.file ?? process.execPath;
}

export interface LaunchOptions {
  /** One child per session (mcpproxy --no-shared, supergateway --stateful). */
  independent: boolean;
  /** A port picked here; otherwise mcpproxy binds port 0 and reports it on stderr. */
  fixedPort: boolean;
  /** false: return right after spawn (the exec → first request figure polls by itself). */
  waitReady?: boolean;
  /** mcpproxy only: serve this servers file (`--config`) instead of the fixture alone. */
  configFile?: string;
  /** mcpproxy only: these access flags (keys, rate limit) instead of `--no-auth`. */
  access?: string[];
}

interface Spec {
  cmd: string;
  args: string[];
  port: number | 'from-stderr';
  ssePath: string;
  mcpPath: string;
}

/** How to start `name` serving `transport`; undefined where the peer has no such mode. */
function specFor(name: TargetName, transport: Transport, port: number | undefined, opts: LaunchOptions): Spec | undefined {
  const node = process.execPath;
  const fixtureCmd = [node, FIXTURE];
  switch (name) {
    case 'floor':
      if (transport !== 'streamable' || opts.independent) return undefined;
      return {
        cmd: floorNode(), args: [FLOOR, '--host', HOST, '--port', String(port ?? 0), '--', ...fixtureCmd],
        port: port ?? 'from-stderr', ssePath: '/sse', mcpPath: '/mcp',
      };
    case 'mcpproxy':
      return {
        cmd: mcpproxyBin(),
        // No drain delay: one instance with no balancer in front, stopped with a 5 s SIGKILL grace.
        args: ['--host', HOST, '--port', String(port ?? 0), ...(opts.access ?? ['--no-auth']), '--heartbeat', '0', '--drain-delay', '0',
          ...(opts.configFile !== undefined ? ['--config', opts.configFile]
            : [opts.independent ? '--no-shared' : '--shared', '--', ...fixtureCmd])],
        port: port ?? 'from-stderr',
        ssePath: '/sse',
        mcpPath: '/mcp',
      };
    case 'supergateway': {
      if (port === undefined) return undefined;
      // supergateway spawns with shell: true, so the command is one shell string.
      const stdio = fixtureCmd.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
      // --logLevel none: at its default level it logs every message body, which would dominate.
      const common = ['--stdio', stdio, '--port', String(port), '--logLevel', 'none'];
      if (transport === 'sse') {
        if (opts.independent) return undefined; // SSE mode has one shared child only
        return { cmd: node, args: [SUPERGATEWAY, ...common], port, ssePath: '/sse', mcpPath: '/mcp' };
      }
      // Stateless Streamable HTTP spawns a child per *request*; stateful is its session mode
      // (one child per session), the only one comparable to a session-oriented proxy.
      return {
        cmd: node,
        args: [SUPERGATEWAY, ...common, '--outputTransport', 'streamableHttp', '--stateful'],
        port, ssePath: '/sse', mcpPath: '/mcp',
      };
    }
    case 'mcp-proxy':
      if (port === undefined || opts.independent) return undefined; // one shared upstream only
      return {
        cmd: node,
        args: [MCP_PROXY, '--host', HOST, '--port', String(port), '--server', transport === 'sse' ? 'sse' : 'stream',
          '--', ...fixtureCmd],
        port, ssePath: '/sse', mcpPath: '/mcp',
      };
  }
}

/** supergateway's Streamable HTTP is always one child per session; note it where it matters. */
export function isPerSessionChild(name: TargetName, transport: Transport): boolean {
  return name === 'supergateway' && transport === 'streamable';
}

export function supports(name: TargetName, transport: Transport, opts: LaunchOptions): boolean {
  if (name === 'mcpproxy' && !mcpproxyBuilt()) return false;
  return specFor(name, transport, 1, opts) !== undefined;
}


export interface StopReport {
  /** How it ended: on SIGTERM within the grace, or only on SIGKILL. */
  exit: 'sigterm' | 'sigkill' | 'already-exited';
  /** Descendants still alive after the target itself exited (then SIGKILLed by us). */
  leftBehind: number[];
}

export class Running {
  readonly name: TargetName;
  readonly transport: Transport;
  readonly child: ChildProcess;
  readonly ssePath: string;
  readonly mcpPath: string;
  readonly startedAt: number;
  port = 0;
  #tail: string[] = [];
  #exited: Promise<void>;
  #state: 'open' | 'closing' | 'closed' = 'open';

  constructor(name: TargetName, transport: Transport, child: ChildProcess, spec: Spec, startedAt: number) {
    this.name = name;
    this.transport = transport;
    this.child = child;
    this.ssePath = spec.ssePath;
    this.mcpPath = spec.mcpPath;
    this.startedAt = startedAt;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  get pid(): number {
    return this.child.pid as number;
  }
  get baseUrl(): string {
    return `http://${HOST}:${this.port}`;
  }
  get label(): string {
    return `${this.name}/${this.transport}`;
  }

  addOutput(line: string): void {
    this.#tail.push(line.length > 300 ? `${line.slice(0, 300)}…` : line);
    if (this.#tail.length > TAIL_LINES) this.#tail.shift();
  }
  tail(): string {
    return this.#tail.join('\n');
  }
  hasExited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** SIGTERM, then SIGKILL to the group after 5 s; then any descendant still alive is killed. */
  async stop(): Promise<StopReport> {
    if (this.#state !== 'open') return { exit: 'already-exited', leftBehind: [] };
    this.#state = 'closing';
    const family = descendants(this.pid);
    rememberStrays(family);
    let exit: StopReport['exit'] = 'sigterm';
    if (this.hasExited()) exit = 'already-exited';
    else {
      this.child.kill('SIGTERM');
      const killTimer = setTimeout(() => {
        exit = 'sigkill';
        try { process.kill(-this.pid, 'SIGKILL'); } catch { /* gone */ }
      }, 5_000);
      await this.#exited;
      clearTimeout(killTimer);
    }
    // Give the target's own child shutdown (end stdin → SIGTERM → SIGKILL) time to finish.
    const deadline = Date.now() + 3_000;
    let alive = family.filter(isAlive);
    while (alive.length > 0 && Date.now() < deadline) {
      await sleep(50);
      alive = alive.filter(isAlive);
    }
    for (const pid of alive) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    forgetStrays(family);
    try { process.kill(-this.pid, 'SIGKILL'); } catch { /* group already empty */ }
    this.#state = 'closed';
    return { exit, leftBehind: alive };
  }
}

/** Any HTTP answer at all (a 404 is fine) means the server is listening. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: HOST, port, path: '/', agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/**
 * Starts a target and resolves once it listens. With fixedPort false, mcpproxy and the floor bind
 * port 0 and the port is read from their `listening … port=<n>` stderr line; peers get a port picked here.
 */
export async function launch(name: TargetName, transport: Transport, opts: LaunchOptions, readyTimeoutMs = 30_000): Promise<Running> {
  const port = (name === 'mcpproxy' || name === 'floor') && !opts.fixedPort ? undefined : await freePort();
  const spec = specFor(name, transport, port, opts);
  if (spec === undefined) throw new BenchError('BENCH_UNSUPPORTED', `${name} has no ${transport} mode for this`);
  const startedAt = performance.now();
  // detached: its own process group, so one kill(-pid) reaches the proxy and what it spawned.
  const child = spawn(spec.cmd, spec.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, cwd: ROOT });
  track(child);
  const run = new Running(name, transport, child, spec, startedAt);
  if (typeof spec.port === 'number') run.port = spec.port;

  let portFromLog: ((p: number) => void) | undefined;
  const logged = new Promise<number>((resolve) => { portFromLog = resolve; });
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        run.addOutput(line);
        const m = /listening.*\bport=(\d+)/.exec(line);
        if (m !== null && portFromLog !== undefined) portFromLog(Number(m[1]));
      }
    });
  }

  if (opts.waitReady === false) return run;
  const deadline = Date.now() + readyTimeoutMs;
  try {
    if (spec.port === 'from-stderr') {
      const exited = new Promise<never>((_, reject) => child.once('exit', (code, sig) =>
        reject(new BenchError('BENCH_TARGET_EXIT', `${run.label} exited (code=${code} signal=${sig}) before listening`))));
      exited.catch(() => {});
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new BenchError('BENCH_TIMEOUT', `${run.label}: no listening line in ${readyTimeoutMs} ms`)), readyTimeoutMs);
      });
      try {
        run.port = await Promise.race([logged, exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    } else {
      while (!(await answers(run.port))) {
        if (run.hasExited()) throw new BenchError('BENCH_TARGET_EXIT', `${run.label} exited before listening`);
        if (Date.now() > deadline) throw new BenchError('BENCH_TIMEOUT', `${run.label}: not listening after ${readyTimeoutMs} ms`);
        await sleep(20);
      }
    }
  } catch (err) {
    await run.stop();
    throw new BenchError((err as BenchError).code ?? 'BENCH_START', `${(err as Error).message}\n--- output ---\n${run.tail()}`);
  }
  return run;
}

/**
 * Runs `body` against an mcpproxy launched with `opts` for it alone, then stops it; processes it left
 * behind are noted under `label`.
 */
export async function withLaunched<T>(opts: LaunchOptions, label: string, notes: string[], body: (run: Running) => Promise<T>): Promise<T> {
  const run = await launch('mcpproxy', 'streamable', opts);
  try {
    return await body(run);
  } finally {
    const stop = await run.stop();
    if (stop.leftBehind.length > 0) notes.push(`mcpproxy ${label} left ${stop.leftBehind.length} process(es) after SIGTERM`);
  }
}
