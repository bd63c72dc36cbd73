/**
 * A Docker engine for the image test, and containers of the image on it. The engine is the one
 * DOCKER_HOST names, or else a private `dockerd` (as root, Debian's docker.io) with its state in a
 * temp dir: no bridge and no iptables rules, so containers use host networking and the test only
 * ever talks to 127.0.0.1. Every wait has a deadline; stop() leaves no daemon, mount or dir behind.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const DAEMON_READY_MS = 60_000;
const DAEMON_STOP_MS = 20_000;

export interface Engine {
  /** The `docker` client, talking to this engine. */
  docker: string;
  env: NodeJS.ProcessEnv;
  /** Runs `docker args...` to completion; throws with its output unless it exits 0. */
  run(args: string[], what: string, options?: { timeoutMs?: number; env?: NodeJS.ProcessEnv }): string;
  /** Stops the private daemon (if this helper started one) and removes its state. Idempotent. */
  stop(): Promise<void>;
}

/** Why the test cannot run here, or undefined when it can. */
export function whyNoEngine(): string | undefined {
  if (findDocker() === undefined) return 'no docker client (apt-get install docker.io)';
  if (process.env.DOCKER_HOST !== undefined && process.env.DOCKER_HOST !== '') return undefined;
  if (findDockerd() === undefined) return 'no dockerd and no DOCKER_HOST (apt-get install docker.io, or set DOCKER_HOST)';
  if (process.getuid?.() !== 0) return 'starting a private dockerd needs root (or set DOCKER_HOST to a running engine)';
  return undefined;
}

/** The engine DOCKER_HOST names, or a private dockerd started for this test. */
export async function startEngine(): Promise<Engine> {
  const docker = findDocker();
  if (docker === undefined) throw new Error('no docker client');
  const given = process.env.DOCKER_HOST;
  if (given !== undefined && given !== '') return engineAt(docker, given, async () => {});

  const dockerd = findDockerd()!;
  // Short: the daemon's and containerd's unix sockets live under it (108-byte path limit).
  const dir = mkdtempSync('/tmp/mcpproxy-dockerd-');
  const host = `unix://${dir}/docker.sock`;
  const daemon = spawn(dockerd, [
    '--host', host, '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'dockerd.pid'),
    '--iptables=false', '--ip6tables=false', '--bridge=none', '--log-level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  daemon.stderr!.setEncoding('utf8').on('data', (chunk: string) => { log = (log + chunk).slice(-20_000); });
  const exited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopped ??= stopDaemon(daemon, exited, dir));
  const engine = engineAt(docker, host, stop);
  const deadline = Date.now() + DAEMON_READY_MS;
  for (;;) {
    if (daemon.exitCode !== null || daemon.signalCode !== null) {
      await stop();
      throw new Error(`dockerd exited (${daemon.signalCode ?? daemon.exitCode}):\n${log}`);
    }
    if (spawnSync(docker, ['info', '--format', '{{.ServerVersion}}'], { env: engine.env, stdio: 'ignore', timeout: 10_000 }).status === 0) return engine;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`dockerd not answering within ${DAEMON_READY_MS} ms:\n${log}`);
    }
    await sleep(200);
  }
}

/** SIGTERM lets the daemon stop its containers and unmount their layers; SIGKILL after a grace. */
async function stopDaemon(daemon: ChildProcess, exited: Promise<void>, dir: string): Promise<void> {
  if (daemon.exitCode === null && daemon.signalCode === null) {
    daemon.kill('SIGTERM');
    const timer = setTimeout(() => daemon.kill('SIGKILL'), DAEMON_STOP_MS);
    await exited;
    clearTimeout(timer);
  }
  // A daemon killed mid-way can leave overlay mounts under its data root: unmount before removing.
  const mounts = spawnSync('findmnt', ['--list', '--noheadings', '--output', 'TARGET'], { encoding: 'utf8' }).stdout ?? '';
  for (const target of mounts.split('\n').filter((m) => m.startsWith(`${dir}/`)).reverse()) {
    spawnSync('umount', ['--lazy', target], { stdio: 'ignore' });
  }
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

function engineAt(docker: string, host: string, stop: () => Promise<void>): Engine {
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: host, DOCKER_CLI_HINTS: 'false' };
  delete env.DOCKER_CONTEXT;
  return {
    docker,
    env,
    run(args, what, options = {}) {
      return dockerSync(docker, args, what, { env: { ...env, ...options.env }, timeout: options.timeoutMs ?? 60_000 });
    },
    stop,
  };
}

function dockerSync(docker: string, args: string[], what: string, options: SpawnSyncOptions): string {
  const r = spawnSync(docker, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (r.error !== undefined) throw new Error(`${what}: ${r.error.message}`);
  if (r.status !== 0) {
    const output = `${r.stderr}\n${r.stdout}`.trim().split('\n').slice(-40).join('\n');
    throw new Error(`${what} failed (${r.signal ?? `exit ${r.status}`}):\n${output}`);
  }
  return String(r.stdout).trim();
}

/** Debian's client first: it matches Debian's engine, where another client may be newer than it speaks. */
function findDocker(): string | undefined {
  return ['/usr/bin/docker', 'docker'].find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).error === undefined);
}

function findDockerd(): string | undefined {
  return ['dockerd', '/usr/sbin/dockerd'].find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).error === undefined);
}

export interface Container {
  id: string;
  /** The host port it serves (host networking: the container's own port). */
  port: number;
  url: string;
  /** Everything it wrote so far (stdout and stderr). */
  logs(): string;
  /** Resolves with the first match of `pattern` in its output, or rejects after `ms`. */
  waitForLog(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** `docker inspect` of it. */
  inspect(): ContainerState;
  /** Its processes: pid, ppid, uid, state letter, command line. */
  processes(): Array<{ pid: number; ppid: number; uid: number; state: string; args: string }>;
  /** `docker exec` as the image's user; resolves with the exit status and stdout. */
  exec(args: string[]): { status: number | null; stdout: string };
  /** `docker stop -t timeoutS`; resolves with the exit code and how long the stop took. */
  stop(timeoutS?: number): { exitCode: number; ms: number };
  /** Force-removes it. Idempotent. */
  remove(): void;
}

export interface ContainerState {
  State: { Status: string; Running: boolean; ExitCode: number; OOMKilled: boolean; Health?: { Status: string; Log?: Array<{ ExitCode: number; Output: string }> } };
  Config: { User: string; Healthcheck?: { Test: string[] }; Entrypoint: string[] };
}

export interface RunOptions {
  /** Environment for the container (PORT and HOST are set by the helper unless given). */
  env?: Record<string, string>;
  /** Host paths mounted read-only: `{ '/in/container': '/on/host' }`. */
  mounts?: Record<string, string>;
  /** Arguments after the image name: mcpproxy's own (e.g. `--config /etc/mcpproxy.json`). */
  args?: string[];
  /** Replaces the image's ENTRYPOINT (e.g. the binary without tini in front). */
  entrypoint?: string;
  /** How long to wait for its "listening" line. */
  readyMs?: number;
}

/**
 * `docker run` of `image` with host networking on a free loopback port, ready when it logs
 * "listening". The container is named after the test so a leftover one is easy to tell.
 */
export async function runContainer(engine: Engine, image: string, options: RunOptions = {}): Promise<Container> {
  const port = Number(options.env?.PORT ?? await freePort());
  const env = { HOST: '127.0.0.1', PORT: String(port), ...options.env };
  const args = ['run', '--detach', '--network', 'host', '--label', 'mcpproxy-test=docker'];
  for (const [name, value] of Object.entries(env)) args.push('--env', `${name}=${value}`);
  for (const [inside, host] of Object.entries(options.mounts ?? {})) args.push('--volume', `${host}:${inside}:ro`);
  if (options.entrypoint !== undefined) args.push('--entrypoint', options.entrypoint);
  const id = engine.run([...args, image, ...(options.args ?? [])], `docker run ${image}`);

  // One follower process collects the output; it ends by itself when the container is removed.
  const follower = spawn(engine.docker, ['logs', '--follow', id], { env: engine.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const wakers = new Set<() => void>();
  const append = (chunk: string): void => {
    output += chunk;
    for (const wake of wakers) wake();
  };
  follower.stdout!.setEncoding('utf8').on('data', append);
  follower.stderr!.setEncoding('utf8').on('data', append);
  // 'close', not 'exit': only then has all of its output been read.
  let ended = false;
  follower.on('close', () => {
    ended = true;
    for (const wake of wakers) wake();
  });

  let removed = false;
  const container: Container = {
    id,
    port,
    url: `http://127.0.0.1:${port}`,
    logs: () => output,
    waitForLog(pattern, ms = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(output);
          if (match !== null) return done(() => resolve(match));
          if (ended) done(() => reject(new Error(`container ended before ${pattern}:\n${output}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`no output ${pattern} within ${ms} ms:\n${output}`))), ms);
        const done = (fn: () => void): void => {
          clearTimeout(timer);
          wakers.delete(check);
          fn();
        };
        wakers.add(check);
        check();
      });
    },
    inspect: () => (JSON.parse(engine.run(['inspect', id], 'docker inspect')) as ContainerState[])[0]!,
    processes() {
      const table = engine.run(['top', id, '-o', 'pid,ppid,uid,stat,args'], 'docker top');
      return table.split('\n').slice(1).map((line) => {
        const [pid, ppid, uid, state, ...rest] = line.trim().split(/\s+/);
        return { pid: Number(pid), ppid: Number(ppid), uid: Number(uid), state: state!, args: rest.join(' ') };
      });
    },
    exec(args) {
      const r = spawnSync(engine.docker, ['exec', id, ...args], { env: engine.env, encoding: 'utf8', timeout: 30_000 });
      if (r.error !== undefined) throw new Error(`docker exec ${args.join(' ')}: ${r.error.message}`);
      return { status: r.status, stdout: r.stdout };
    },
    stop(timeoutS = 10) {
      const started = Date.now();
      engine.run(['stop', '--time', String(timeoutS), id], 'docker stop', { timeoutMs: (timeoutS + 30) * 1000 });
      const ms = Date.now() - started;
      return { exitCode: container.inspect().State.ExitCode, ms };
    },
    remove() {
      if (removed) return;
      removed = true;
      spawnSync(engine.docker, ['rm', '--force', id], { env: engine.env, stdio: 'ignore', timeout: 60_000 });
      follower.kill();
    },
  };
  try {
    await container.waitForLog(/\blistening\b.*\bport=\d+/, options.readyMs ?? 60_000);
  } catch (err) {
    container.remove();
    throw err;
  }
  return container;
}

/** A port nothing listens on right now (the container binds it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
