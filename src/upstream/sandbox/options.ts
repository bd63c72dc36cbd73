/**
 * What an operator asked the sandbox for, from flags or a config file's per-server `sandbox` key.
 * Pure: strings and plain values in, a SandboxSpec out, an Error naming the bad value otherwise.
 */

export type SandboxMode = 'off' | 'auto' | 'strict';

export interface SandboxLimits {
  /** memory.max of the child's cgroup; swap is always 0. */
  memoryBytes: number;
  /** CPUs' worth of time per period (cpu.max); 0.5 is half a CPU. */
  cpus: number;
  /** Processes and threads at once (pids.max). */
  pids: number;
  /** Open files per process (RLIMIT_NOFILE); undefined leaves the inherited limit. */
  nofile: number | undefined;
  /** Total CPU seconds per process (RLIMIT_CPU, then SIGXCPU); undefined: no budget. */
  cpuSeconds: number | undefined;
  /** Wall-clock life of one child before it is stopped; undefined: no limit. */
  lifetimeMs: number | undefined;
}

export interface SandboxSpec {
  mode: SandboxMode;
  limits: SandboxLimits;
  network: 'on' | 'off';
  /** User (name or numeric uid) children run as when the proxy runs as root. */
  user: string | undefined;
  /** Where per-server homes live (`<stateDir>/homes/<server>`); undefined: the default (sandbox-setup.ts). */
  stateDir: string | undefined;
  /** Host paths shown read-only / read-write besides what the command needs (a filesystem server's project). */
  readOnlyPaths: string[];
  writablePaths: string[];
  /**
   * Package managers' credentials (npmrc `_authToken`, `_auth`, `_password`, client keys; user:password in
   * index URLs; `*_TOKEN`/`*_PASSWORD` variables) reach the child too; by default they are left out.
   */
  packageCredentials: boolean;
}

export const DEFAULT_SANDBOX_SPEC: SandboxSpec = Object.freeze({
  mode: 'auto',
  limits: Object.freeze({ memoryBytes: 2 * 1024 ** 3, cpus: 1, pids: 256, nofile: undefined, cpuSeconds: undefined, lifetimeMs: undefined }),
  network: 'on',
  user: undefined,
  stateDir: undefined,
  readOnlyPaths: [],
  writablePaths: [],
  packageCredentials: false,
}) as SandboxSpec;

/** Flag values as commander hands them over (strings, absent when not given). */
export interface SandboxFlags {
  sandbox?: string | undefined;
  sandboxUser?: string | undefined;
  stateDir?: string | undefined;
  sandboxMemory?: string | undefined;
  sandboxCpus?: string | undefined;
  sandboxPids?: string | undefined;
  sandboxNofile?: string | undefined;
  sandboxCpuSeconds?: string | undefined;
  sandboxLifetime?: string | undefined;
  sandboxNetwork?: string | undefined;
  sandboxRead?: string[] | undefined;
  sandboxWrite?: string[] | undefined;
  packageCredentials?: boolean | undefined;
}

/** The process-wide spec from flags; also the base each server's `sandbox` key overrides. */
export function parseSandboxFlags(flags: SandboxFlags): SandboxSpec {
  const d = DEFAULT_SANDBOX_SPEC;
  return {
    mode: flags.sandbox === undefined ? d.mode : parseMode(flags.sandbox, '--sandbox'),
    limits: {
      memoryBytes: flags.sandboxMemory === undefined ? d.limits.memoryBytes : parseBytes(flags.sandboxMemory, '--sandbox-memory'),
      cpus: flags.sandboxCpus === undefined ? d.limits.cpus : parseCpus(flags.sandboxCpus, '--sandbox-cpus'),
      pids: flags.sandboxPids === undefined ? d.limits.pids : parseCount(flags.sandboxPids, '--sandbox-pids'),
      nofile: flags.sandboxNofile === undefined ? undefined : parseCount(flags.sandboxNofile, '--sandbox-nofile'),
      cpuSeconds: flags.sandboxCpuSeconds === undefined ? undefined : parseCount(flags.sandboxCpuSeconds, '--sandbox-cpu-seconds'),
      lifetimeMs: flags.sandboxLifetime === undefined ? undefined : parseCount(flags.sandboxLifetime, '--sandbox-lifetime') * 1000,
    },
    network: flags.sandboxNetwork === undefined ? d.network : parseNetwork(flags.sandboxNetwork, '--sandbox-network'),
    user: flags.sandboxUser === undefined ? undefined : parseUser(flags.sandboxUser, '--sandbox-user'),
    stateDir: flags.stateDir === undefined ? undefined : parsePath(flags.stateDir, '--state-dir'),
    readOnlyPaths: (flags.sandboxRead ?? []).map((path) => parsePath(path, '--sandbox-read')),
    writablePaths: (flags.sandboxWrite ?? []).map((path) => parsePath(path, '--sandbox-write')),
    packageCredentials: flags.packageCredentials === true,
  };
}

const CONFIG_KEYS = new Set(['mode', 'memory', 'cpus', 'pids', 'nofile', 'cpuSeconds', 'lifetime', 'network', 'readOnly', 'writable', 'packageCredentials']);

/**
 * A server's `sandbox` key over `base`: a mode string ("off", "auto", "strict") or an object
 * `{ mode, memory, cpus, pids, nofile, cpuSeconds, lifetime, network, readOnly, writable, packageCredentials }`
 * (readOnly, writable: lists of absolute host paths to show, added to the flags'; packageCredentials: a
 * boolean); `where` names the key in errors.
 * Numbers are bytes (memory), CPUs, counts and seconds (cpuSeconds, lifetime); memory may also be "2GiB".
 */
export function parseSandboxConfig(value: unknown, base: SandboxSpec, where: string): SandboxSpec {
  if (value === undefined) return base;
  if (typeof value === 'string') return { ...base, mode: parseMode(value, where) };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${where}: expected "off", "auto", "strict" or an object, got ${JSON.stringify(value)}`);
  }
  const raw = value as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!CONFIG_KEYS.has(key)) throw new Error(`${where}.${key}: unknown key (known: ${[...CONFIG_KEYS].join(', ')})`);
  }
  const at = (key: string): string => `${where}.${key}`;
  const text = (key: string): string | undefined => (raw[key] === undefined ? undefined : stringOf(raw[key], at(key)));
  const has = (key: string): boolean => raw[key] !== undefined;
  const limits = base.limits;
  return {
    ...base,
    mode: has('mode') ? parseMode(text('mode')!, at('mode')) : base.mode,
    limits: {
      memoryBytes: has('memory') ? parseBytes(text('memory')!, at('memory')) : limits.memoryBytes,
      cpus: has('cpus') ? parseCpus(text('cpus')!, at('cpus')) : limits.cpus,
      pids: has('pids') ? parseCount(text('pids')!, at('pids')) : limits.pids,
      nofile: has('nofile') ? parseCount(text('nofile')!, at('nofile')) : limits.nofile,
      cpuSeconds: has('cpuSeconds') ? parseCount(text('cpuSeconds')!, at('cpuSeconds')) : limits.cpuSeconds,
      lifetimeMs: has('lifetime') ? parseCount(text('lifetime')!, at('lifetime')) * 1000 : limits.lifetimeMs,
    },
    network: has('network') ? parseNetwork(text('network')!, at('network')) : base.network,
    readOnlyPaths: has('readOnly') ? [...base.readOnlyPaths, ...pathList(raw.readOnly, at('readOnly'))] : base.readOnlyPaths,
    writablePaths: has('writable') ? [...base.writablePaths, ...pathList(raw.writable, at('writable'))] : base.writablePaths,
    packageCredentials: has('packageCredentials') ? booleanOf(raw.packageCredentials, at('packageCredentials')) : base.packageCredentials,
  };
}

function pathList(value: unknown, where: string): string[] {
  if (!Array.isArray(value)) throw new Error(`${where}: expected a list of absolute paths`);
  return value.map((item, i) => parsePath(typeof item === 'string' ? item : JSON.stringify(item), `${where}[${i}]`));
}

function booleanOf(value: unknown, where: string): boolean {
  if (typeof value === 'boolean') return value;
  throw new Error(`${where}: expected true or false, got ${JSON.stringify(value)}`);
}

function stringOf(value: unknown, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new Error(`${where}: expected a string or a number, got ${JSON.stringify(value)}`);
}

function parseMode(text: string, where: string): SandboxMode {
  if (text === 'off' || text === 'auto' || text === 'strict') return text;
  throw new Error(`${where}: expected off, auto or strict, got "${text}"`);
}

function parseNetwork(text: string, where: string): 'on' | 'off' {
  if (text === 'on' || text === 'off') return text;
  throw new Error(`${where}: expected on or off, got "${text}"`);
}

const UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3,
};
/** Below this a Node or Python server cannot even start; a smaller value is a typo, not a limit. */
const MIN_MEMORY_BYTES = 16 * 1024 ** 2;

/** "2GiB", "512M", "1048576": binary units, since that is what memory.max and `free` mean. */
export function parseBytes(text: string, where: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match === null ? undefined : UNITS[match[2]!.toLowerCase()];
  if (match === null || unit === undefined) throw new Error(`${where}: expected a size such as 2GiB, 512MiB or a byte count, got "${text}"`);
  const bytes = Math.floor(Number(match[1]) * unit);
  if (bytes < MIN_MEMORY_BYTES) throw new Error(`${where}: ${text} is below the 16MiB minimum`);
  return bytes;
}

function parseCpus(text: string, where: string): number {
  const cpus = /^\s*\d+(\.\d+)?\s*$/.test(text) ? Number(text) : NaN;
  // cpu.max cannot give less than 1 ms per 100 ms period.
  if (!(cpus >= 0.01)) throw new Error(`${where}: expected a number of CPUs of at least 0.01, got "${text}"`);
  return cpus;
}

function parseCount(text: string, where: string): number {
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && Number.isSafeInteger(n))) throw new Error(`${where}: expected a whole number of at least 1, got "${text}"`);
  return n;
}

function parseUser(text: string, where: string): string {
  // A user name as useradd accepts it, or a numeric uid; nothing a shell or setpriv could misread.
  if (/^([a-z_][a-z0-9_-]*\$?|\d+)$/i.test(text)) return text;
  throw new Error(`${where}: expected a user name or numeric uid, got "${text}"`);
}

function parsePath(text: string, where: string): string {
  if (text.startsWith('/')) return text;
  throw new Error(`${where}: expected an absolute path, got "${text}"`);
}
