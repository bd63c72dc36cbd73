/**
 * An npm registry stand-in on loopback for one package and its whole dependency closure, as this
 * checkout installed them: packuments built from the installed package.json files, real tarballs
 * read from npm's own cache by the lock file's integrity (or made with `npm pack` where the cache
 * lacks one), served with their computed sha512 integrity. Tarballs go out one at a time with a
 * pause before each one starts, so a cold install takes as long as the test asks: a slow first fetch.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './proxy.ts';

interface PackedVersion {
  manifest: Record<string, unknown>;
  tarball: Buffer;
  integrity: string;
  shasum: string;
}

interface LockEntry {
  version: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

export interface RegistryStats {
  packuments: number;
  tarballs: number;
  /** ms from the first request to the last tarball sent; 0 before any tarball. */
  spanMs: number;
}

export interface NpmRegistry {
  /** Base URL, for `npm_config_registry`. */
  url: string;
  /** How many package versions it serves (the closure of the root package). */
  size: number;
  stats(): RegistryStats;
  close(): Promise<void>;
}

let loaded: Map<string, Map<string, PackedVersion>> | undefined;

/** Lock-file path (`node_modules/a/node_modules/b`) of `name` as seen from `from`, by Node's lookup. */
function resolveInLock(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`;
    if (packages[candidate] !== undefined) return candidate;
    if (dir === '') return undefined;
    const cut = dir.lastIndexOf('/node_modules/');
    dir = cut < 0 ? '' : dir.slice(0, cut);
  }
}

/** The lock paths of `root` and everything it needs to run (dependencies, optional and required peers). */
function closure(packages: Record<string, LockEntry>, root: string): string[] {
  const seen = new Set<string>();
  const queue = [root];
  while (queue.length > 0) {
    const path = queue.pop()!;
    if (seen.has(path)) continue;
    seen.add(path);
    const entry = packages[path]!;
    const peers = Object.keys(entry.peerDependencies ?? {}).filter((name) => entry.peerDependenciesMeta?.[name]?.optional !== true);
    for (const name of [...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.optionalDependencies ?? {}), ...peers]) {
      const found = resolveInLock(packages, path, name);
      if (found !== undefined) queue.push(found);
      else if (entry.optionalDependencies?.[name] === undefined) throw new Error(`${path} needs ${name}, which is not installed`);
    }
  }
  return [...seen];
}

/** npm's content-addressed cache entry for `integrity` (`sha512-…`), if it is there. */
function fromNpmCache(integrity: string | undefined): Buffer | undefined {
  if (integrity === undefined) return undefined;
  const [algorithm, digest] = integrity.split('-', 2) as [string, string];
  const hex = Buffer.from(digest, 'base64').toString('hex');
  const file = join(process.env.npm_config_cache ?? join(homedir(), '.npm'), '_cacache', 'content-v2', algorithm, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
  if (!existsSync(file)) return undefined;
  const data = readFileSync(file);
  return createHash(algorithm).update(data).digest('base64') === digest ? data : undefined;
}

/** Tarballs for installed packages npm's cache lacks, with one `npm pack` for all of them. */
function packDirs(dirs: string[]): Buffer[] {
  if (dirs.length === 0) return [];
  const out = mkdtempSync(join(tmpdir(), 'mcpproxy-pack-'));
  try {
    const json = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', out, ...dirs], {
      encoding: 'utf8',
      env: { ...process.env, npm_config_update_notifier: 'false' },
      maxBuffer: 64 * 1024 * 1024,
    });
    return (JSON.parse(json) as Array<{ filename: string }>).map((entry) => readFileSync(join(out, entry.filename.replace(/^@/, '').replace('/', '-'))));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** Every version of every package in the closure of `rootName`, by name then version. Read once per process. */
function loadClosure(rootName: string): Map<string, Map<string, PackedVersion>> {
  if (loaded !== undefined) return loaded;
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const paths = closure(lock.packages, `node_modules/${rootName}`);
  const tarballs = paths.map((path) => fromNpmCache(lock.packages[path]!.integrity));
  const missing = paths.filter((_, i) => tarballs[i] === undefined);
  const packed = packDirs(missing.map((path) => join(ROOT, path)));
  const byName = new Map<string, Map<string, PackedVersion>>();
  paths.forEach((path, i) => {
    const tarball = tarballs[i] ?? packed[missing.indexOf(path)]!;
    const manifest = JSON.parse(readFileSync(join(ROOT, path, 'package.json'), 'utf8')) as Record<string, unknown>;
    const name = manifest.name as string;
    const versions = byName.get(name) ?? new Map<string, PackedVersion>();
    versions.set(manifest.version as string, {
      manifest,
      tarball,
      integrity: `sha512-${createHash('sha512').update(tarball).digest('base64')}`,
      shasum: createHash('sha1').update(tarball).digest('hex'),
    });
    byName.set(name, versions);
  });
  loaded = byName;
  return byName;
}

function compareVersions(a: string, b: string): number {
  const parts = (v: string): number[] => v.split(/[.+-]/).map((p) => Number.parseInt(p, 10) || 0);
  const [pa, pb] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

function packument(base: string, name: string, versions: Map<string, PackedVersion>): string {
  const sorted = [...versions.keys()].sort(compareVersions);
  const entries = Object.fromEntries(sorted.map((version) => {
    const v = versions.get(version)!;
    const tarball = `${base}/-/tarballs/${encodeURIComponent(name)}/${version}.tgz`;
    return [version, { ...v.manifest, _id: `${name}@${version}`, dist: { tarball, integrity: v.integrity, shasum: v.shasum } }];
  }));
  return JSON.stringify({ _id: name, name, 'dist-tags': { latest: sorted.at(-1) }, versions: entries });
}

/**
 * Starts the stand-in for `rootName` (a package installed in this checkout). Each tarball starts
 * `tarballPaceMs` after the previous one, whatever npm's concurrency: a cold install of the
 * closure takes at least size × tarballPaceMs.
 */
export async function startNpmRegistry(rootName: string, options: { tarballPaceMs?: number } = {}): Promise<NpmRegistry> {
  const packages = loadClosure(rootName);
  const paceMs = options.tarballPaceMs ?? 0;
  let lane = Promise.resolve();
  let firstAt: number | undefined;
  let lastTarballAt: number | undefined;
  let packuments = 0;
  let tarballs = 0;
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    firstAt ??= Date.now();
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const tarball = /^\/-\/tarballs\/(.+)\/([^/]+)\.tgz$/.exec(path);
    if (tarball !== null) {
      const found = packages.get(tarball[1]!)?.get(tarball[2]!);
      if (found === undefined) return void res.writeHead(404).end();
      // Paced by when each tarball starts, not when npm has read it: a slow reader holds up nothing else.
      lane = lane.then(() => new Promise<void>((resolve) => setTimeout(resolve, paceMs)));
      void lane.then(() => {
        tarballs++;
        lastTarballAt = Date.now();
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': found.tarball.length }).end(found.tarball);
      });
      return;
    }
    const versions = packages.get(path.slice(1));
    if (versions === undefined) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}');
    packuments++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(packument(base, path.slice(1), versions));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return {
    url: `${base}/`,
    size: [...packages.values()].reduce((n, versions) => n + versions.size, 0),
    stats: () => ({ packuments, tarballs, spanMs: firstAt === undefined || lastTarballAt === undefined ? 0 : lastTarballAt - firstAt }),
    close: () => new Promise<void>((resolve) => {
      http.closeAllConnections();
      http.close(() => resolve());
    }),
  };
}
