#!/usr/bin/env node
// Builds mcpproxy.
//   node build.mjs                 dist/mcpproxy.cjs (bundle) + dist/mcpproxy (standalone binary, this machine's arch)
//   node build.mjs --bundle-only   dist/mcpproxy.cjs only
//   node build.mjs --release       dist/release/mcpproxy-<version>-linux-{x64,arm64} + SHA256SUMS
//   node build.mjs --runtime-path  prints the cached Node runtime's path (fetched if missing); builds nothing
//
// The binary is a Node Single Executable Application (SEA) on the official Node runtime taken
// from the npm registry (node-linux-<arch>), the only place this project can download from.
// Runtimes are cached, stripped, in $MCPPROXY_CACHE_DIR (default .cache/runtime/): after the
// first build, rebuilds are offline. Every output is written to a temp file and renamed into
// place, so an interrupted build never leaves a half-written binary behind.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = dirname(fileURLToPath(import.meta.url));
const DIST = join(ROOT, 'dist');
const BUNDLE = join(DIST, 'mcpproxy.cjs');
const BINARY = join(DIST, 'mcpproxy');
const RELEASE_DIR = join(DIST, 'release');
/** Node runtime embedded in the binary: the current LTS. The SEA blob is built by this same binary. */
const RUNTIME_VERSION = '26.10.0';
const RELEASE_ARCHES = ['x64', 'arm64'];
/** Per arch: GNU triplet prefix, Debian arch name, binutils package suffix. */
const ARCHES = {
  x64: { gnu: 'x86_64', deb: 'amd64', binutils: 'x86-64' },
  arm64: { gnu: 'aarch64', deb: 'arm64', binutils: 'aarch64' },
};
/** Shared libraries the official linux builds need (readelf -d); looked for in a cross sysroot under qemu. */
const CROSS_LIBS = [['libc.so.6', 'libc6'], ['libstdc++.so.6', 'libstdc++6'], ['libatomic.so.1', 'libatomic1']];

class BuildError extends Error {}

const USAGE = `usage: node build.mjs [--bundle-only | --release | --runtime-path] [--entry <file>]
  --bundle-only   only bundle to dist/mcpproxy.cjs (no standalone binary)
  --runtime-path  print the path of the stripped Node runtime for this machine's arch (fetched into
                  the cache if missing) and build nothing; the Docker test puts it in its base image
  --release       dist/release/mcpproxy-<version>-linux-{${RELEASE_ARCHES.join(',')}} and SHA256SUMS
  --entry <file>  entry point (default src/main.ts)
environment: MCPPROXY_CACHE_DIR  where Node runtimes are cached (default .cache/runtime)`;

async function main() {
  let opts;
  try {
    opts = parseArgs({
      options: {
        'bundle-only': { type: 'boolean', default: false },
        release: { type: 'boolean', default: false },
        'runtime-path': { type: 'boolean', default: false },
        entry: { type: 'string', default: join('src', 'main.ts') },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    throw new BuildError(`${err.message}\n${USAGE}`);
  }
  if (opts.help) return void console.log(USAGE);
  if (opts['bundle-only'] && opts.release) throw new BuildError('--bundle-only and --release exclude each other');
  if (opts['runtime-path']) {
    if (opts['bundle-only'] || opts.release) throw new BuildError('--runtime-path builds nothing: give it alone');
    checkTools([hostArch()]);
    const runtime = getRuntime(hostArch());
    return void console.log(runtime);
  }

  const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
  // Check the tools first: a release that fails after minutes for want of qemu helps nobody.
  const arches = opts.release ? RELEASE_ARCHES : opts['bundle-only'] ? [] : [hostArch()];
  checkTools(arches);

  await step(`bundle ${opts.entry} -> ${rel(BUNDLE)}`, () => bundle(resolve(ROOT, opts.entry), BUNDLE, version));
  if (opts.release) {
    await release(version);
  } else if (!opts['bundle-only']) {
    const runtime = await step(`runtime node ${RUNTIME_VERSION} linux-${hostArch()}`, () => getRuntime(hostArch()));
    await step(`binary ${rel(BINARY)}`, () => buildSea({ arch: hostArch(), runtime, bundlePath: BUNDLE, outPath: BINARY, version }));
  }
}

/** esbuild: every dependency bundled, since a SEA's main script can only `require` Node built-ins. */
async function bundle(entryPath, outPath, version) {
  if (!existsSync(entryPath)) throw new BuildError(`entry point ${rel(entryPath)} not found`);
  const { build } = await import('esbuild');
  let result;
  try {
    result = await build({
      entryPoints: [entryPath],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      sourcemap: false,
      legalComments: 'none',
      define: { MCPPROXY_VERSION: JSON.stringify(version) },
      logLevel: 'warning', // warnings (e.g. import.meta in CJS) are printed, errors fail the build
      write: false,
    });
  } catch {
    throw new BuildError('esbuild failed (errors above)'); // esbuild has already printed them
  }
  writeAtomic(outPath, result.outputFiles[0].contents, 0o644);
  return `${kib(result.outputFiles[0].contents.length)}`;
}

/** dist/release/: one binary per arch and SHA256SUMS, swapped in whole when all are built. */
async function release(version) {
  mkdirSync(DIST, { recursive: true });
  const tmpDir = mkdtempSync(join(DIST, '.release-'));
  try {
    const names = [];
    for (const arch of RELEASE_ARCHES) {
      const runtime = await step(`runtime node ${RUNTIME_VERSION} linux-${arch}`, () => getRuntime(arch));
      const name = `mcpproxy-${version}-linux-${arch}`;
      await step(`binary ${name}`, () => buildSea({ arch, runtime, bundlePath: BUNDLE, outPath: join(tmpDir, name), version }));
      names.push(name);
    }
    // Node's license (and its bundled dependencies' notices) travels with the runtime we ship.
    writeFileSync(join(tmpDir, 'LICENSE.node'), readFileSync(runtimeLicensePath()));
    names.push('LICENSE.node');
    const lines = [];
    for (const name of names) lines.push(`${await sha256(join(tmpDir, name))}  ${name}\n`);
    writeFileSync(join(tmpDir, 'SHA256SUMS'), lines.join(''));
    chmodSync(tmpDir, 0o755); // mkdtemp made it 0700
    rmSync(RELEASE_DIR, { recursive: true, force: true });
    renameSync(tmpDir, RELEASE_DIR);
  } finally {
    rmSync(tmpDir, { recursive: true, force: true });
  }
  console.error(`release: ${rel(RELEASE_DIR)}/ (verify with: cd ${rel(RELEASE_DIR)} && sha256sum -c SHA256SUMS)`);
}

/**
 * Node's Single Executable Application, made the way the project's design names: the blob is
 * generated by the embedded runtime itself (`--experimental-sea-config`; a blob from another Node
 * version crashes the binary), then injected into a copy of that runtime with postject.
 * useCodeCache stays off: V8's code cache is tied to the CPU it was made on, and it started
 * this bundle no faster here (about 30 ms of CPU for --version either way).
 */
async function buildSea({ arch, runtime, bundlePath, outPath, version }) {
  mkdirSync(dirname(outPath), { recursive: true });
  const tmpDir = mkdtempSync(join(dirname(outPath), '.sea-'));
  try {
    const tmpOut = join(tmpDir, basename(outPath));
    const blobPath = join(tmpDir, 'sea.blob');
    const configPath = join(tmpDir, 'sea-config.json');
    writeFileSync(configPath, JSON.stringify({
      main: bundlePath,
      output: blobPath,
      disableExperimentalSEAWarning: true,
      useCodeCache: false,
      useSnapshot: false,
      // A 1 MiB young generation: thousands of idle SSE sessions stay ~40 MiB smaller, and the
      // proxy's short-lived per-message garbage is scavenged as fast (measured: same replies/s).
      execArgv: ['--max-semi-space-size=1'],
    }, null, 2));
    run(arch, runtime, ['--experimental-sea-config', configPath], `node --experimental-sea-config (runtime ${rel(runtime)}; delete it to fetch it again)`);
    copyFileSync(runtime, tmpOut);
    await injectBlob(tmpOut, readFileSync(blobPath));
    chmodSync(tmpOut, 0o755);
    // A binary that cannot print its version is not shipped; for another arch this runs under qemu.
    const out = run(arch, tmpOut, ['--version'], `${basename(outPath)} --version`).stdout.trim();
    if (!out.includes(version)) throw new BuildError(`${basename(outPath)} --version printed ${JSON.stringify(out)}, expected ${version}`);
    renameSync(tmpOut, outPath);
    return `${mib(statSync(outPath).size)}, --version ok${arch === hostArch() ? '' : ' under qemu'}`;
  } finally {
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

/** postject's JS API; its "Can't find string offset for section name" warnings are harmless and hidden. */
async function injectBlob(executable, blob) {
  const { inject } = (await import('postject')).default ?? (await import('postject'));
  const warn = console.warn;
  console.warn = (...args) => { if (!String(args[0]).includes("Can't find string offset")) warn(...args); };
  try {
    await inject(executable, 'NODE_SEA_BLOB', blob, { sentinelFuse: 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2' });
  } catch (err) {
    throw new BuildError(`postject could not inject the SEA blob: ${err.message}`);
  } finally {
    console.warn = warn;
  }
}

function cacheDir() {
  return resolve(process.env.MCPPROXY_CACHE_DIR || join(ROOT, '.cache', 'runtime'));
}

function runtimeLicensePath() {
  return join(cacheDir(), `node-v${RUNTIME_VERSION}-LICENSE`);
}

/** The stripped official runtime for `arch`, from the cache or `npm pack node-linux-<arch>` (integrity checked by npm). */
function getRuntime(arch) {
  const dir = cacheDir();
  const target = join(dir, `node-v${RUNTIME_VERSION}-linux-${arch}`);
  if (existsSync(target) && existsSync(runtimeLicensePath())) return target;
  mkdirSync(dir, { recursive: true });
  const tmpDir = mkdtempSync(join(dir, '.fetch-'));
  try {
    const spec = `node-linux-${arch}@${RUNTIME_VERSION}`;
    const pack = exec('npm', ['pack', spec, '--pack-destination', tmpDir, '--ignore-scripts', '--json'], `npm pack ${spec}`, { cwd: tmpDir });
    const tarball = join(tmpDir, JSON.parse(pack.stdout)[0].filename);
    exec('tar', ['-xzf', tarball, '-C', tmpDir, 'package/bin/node', 'package/LICENSE'], `tar (unpack ${basename(tarball)})`);
    const node = join(tmpDir, 'package', 'bin', 'node');
    // Symbols are 12-18 MB of the binary and useless to users (node's own stack traces do not need them).
    exec(stripTool(arch), [node], `${stripTool(arch)} node-linux-${arch}`);
    const out = run(arch, node, ['--version'], `node-linux-${arch} --version`).stdout.trim();
    if (out !== `v${RUNTIME_VERSION}`) throw new BuildError(`node-linux-${arch} reports ${JSON.stringify(out)}, expected v${RUNTIME_VERSION}`);
    renameSync(join(tmpDir, 'package', 'LICENSE'), runtimeLicensePath());
    renameSync(node, target);
    return target;
  } finally {
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

function hostArch() {
  if (!(process.arch in ARCHES) || process.platform !== 'linux') {
    throw new BuildError(`the standalone binary is built on linux x64 or arm64, not ${process.platform}-${process.arch} (use --bundle-only)`);
  }
  return process.arch;
}

function stripTool(arch) {
  return arch === hostArch() ? 'strip' : `${ARCHES[arch].gnu}-linux-gnu-strip`;
}

/** A foreign arch's runtime runs under qemu user emulation, with Debian's cross libraries as its root. */
function emulation(arch) {
  const { gnu } = ARCHES[arch];
  return { qemu: `qemu-${gnu}-static`, sysroot: `/usr/${gnu}-linux-gnu` };
}

/** Everything missing, named by the Debian package that brings it; this script installs nothing itself. */
function checkTools(arches) {
  const missing = new Set();
  const need = (tool, pkg) => { if (!hasTool(tool)) missing.add(pkg); };
  for (const arch of arches) {
    const { deb, binutils } = ARCHES[arch];
    if (arch === hostArch()) {
      need('strip', 'binutils');
      continue;
    }
    need(stripTool(arch), `binutils-${binutils}-linux-gnu`);
    const { qemu, sysroot } = emulation(arch);
    need(qemu, 'qemu-user-static');
    for (const [lib, pkg] of CROSS_LIBS) {
      if (!existsSync(join(sysroot, 'lib', lib))) missing.add(`${pkg}-${deb}-cross`);
    }
  }
  if (missing.size > 0) {
    throw new BuildError(`missing tools for linux-${arches.join('/')}: apt-get install -y ${[...missing].join(' ')}`);
  }
}

function hasTool(tool) {
  return spawnSync(tool, ['--version'], { stdio: 'ignore' }).error?.code !== 'ENOENT';
}

/** Runs a program built for `arch`: directly on the host's arch, under qemu for the other. */
function run(arch, file, args, what) {
  if (arch === hostArch()) return exec(file, args, what);
  const { qemu, sysroot } = emulation(arch);
  return exec(qemu, ['-L', sysroot, file, ...args], what);
}

/** Runs a command to completion; a failure becomes one BuildError that shows what it printed. */
function exec(cmd, args, what, options = {}) {
  // NODE_OPTIONS from the caller's shell must not reach the runtime that builds the blob.
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, env, ...options });
  if (r.error) throw new BuildError(`${what}: ${r.error.code === 'ENOENT' ? `${cmd} not found` : r.error.message}`);
  if (r.status !== 0) {
    const output = `${r.stderr}${r.stdout}`.trim().split('\n').slice(-20).join('\n');
    throw new BuildError(`${what} failed (${r.signal ?? `exit ${r.status}`})${output ? `:\n${output}` : ''}`);
  }
  return r;
}

function writeAtomic(path, data, mode) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data, { mode });
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
}

function sha256(path) {
  return new Promise((resolveHash, reject) => {
    const hash = createHash('sha256');
    createReadStream(path).on('error', reject).on('data', (chunk) => hash.update(chunk)).on('end', () => resolveHash(hash.digest('hex')));
  });
}

async function step(label, fn) {
  const started = performance.now();
  const result = await fn();
  const note = typeof result === 'string' ? `, ${rel(result)}` : '';
  console.error(`build: ${label} (${Math.round(performance.now() - started)} ms${note})`);
  return result;
}

const rel = (path) => path.startsWith(`${ROOT}/`) ? path.slice(ROOT.length + 1) : path;
const kib = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

main().catch((err) => {
  console.error(`build: ${err instanceof BuildError ? err.message : err.stack}`);
  process.exitCode = 1;
});
