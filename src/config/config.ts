/** The validated configuration the proxy runs with, built from flags with environment fallbacks. */
import { buildTraceConfig, TraceConfigError, type TraceConfig, type TraceRaw } from '../trace/trace-config.ts';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { LogFormat, LogLevel } from '../observe/log.ts';
import { splitShellWords } from './shell-words.ts';
import { allowList, bool, envNames, ConfigError, fixedEnv, integer, list, normalizeOrigin, oneOf, readText, seconds, UsageError } from './flag-values.ts';
import { ConfigFileError, parseServersFile, type ServerDefaults, type ServersFile } from './config-file.ts';
import { ExpansionError, parseEnvFile } from './expand.ts';
import { parseSandboxFlags, type SandboxFlags, type SandboxSpec } from '../upstream/sandbox/options.ts';
import { DEFAULT_SERVER_NAME, type ServerSpec, type UpstreamProtocol } from './server-spec.ts';
import { buildIdentityConfig, IDENTITY_ENV_VARS, identityWithEnv, IdentityConfigError, type IdentityConfig, type IdentityRaw } from './identity-config.ts';

export interface Config {
  host: string;
  port: number;
  /** undefined: no access key is required. */
  authKey: string | undefined;
  /** A key (single or named) or an OAuth token is required of every client. */
  requiresCredentials: boolean;
  heartbeatMs: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
  maxMessageBytes: number;
  maxBodyBytes: number;
  maxStreamBufferBytes: number;
  replayBufferEvents: number;
  sessionIdleTimeoutMs: number;
  /** On SIGTERM, how long /readyz says 503 while the instance still serves (load balancers see it go). */
  drainDelayMs: number;
  shutdownTimeoutMs: number;
  /** How long a client may take to send its request headers (slowloris). */
  headersTimeoutMs: number;
  /** How long a response's unsent bytes may make no progress before it is cut off (a client not reading). */
  writeTimeoutMs: number;
  allowOrigins: string[];
  /** Origins answered with CORS headers; '*' for any. Empty: CORS off. */
  corsOrigins: string[];
  instanceId: string | undefined;
  /** Children across all servers at most; 0 unlimited. */
  maxChildren: number;
  /** Where lazy servers' catalogs are kept across restarts. */
  stateDir: string | undefined;
  /** The servers file, re-read on reload; undefined in the single-command form. */
  serversFile: { path: string; envFile: string | undefined; defaults: ServerDefaults } | undefined;
  servers: ServerSpec[];
  /** What loading the servers file had to say (unknown keys): logged at start. */
  warnings: string[];
  /** Named keys, OAuth, and what a principal drives (child per principal, tool rules, rate limit, audit). */
  identity: IdentityConfig;
  /** The access key's file, if it came from one: hidden from sandboxed children like every secret file. */
  authKeyFile: string | undefined;
  /** OTLP export of traces; undefined: tracing off. */
  tracing: TraceConfig | undefined;
}

/** Raw option values as commander hands them over (strings, booleans, lists), before validation. */
export interface RawOptions extends IdentityRaw, TraceRaw, Omit<SandboxFlags, 'stateDir'> {
  host?: string;
  port?: string;
  shared?: boolean;
  authKey?: string;
  authKeyFile?: string;
  auth?: boolean;
  heartbeat?: string;
  logLevel?: string;
  logFormat?: string;
  maxMessageBytes?: string;
  maxBodyBytes?: string;
  maxStreamBuffer?: string;
  replayBuffer?: string;
  sessionIdleTimeout?: string;
  requestTimeout?: string;
  drainDelay?: string;
  shutdownTimeout?: string;
  headersTimeout?: string;
  writeTimeout?: string;
  maxSessions?: string;
  allowEnv?: string;
  envPassthrough?: string;
  env?: string[];
  allowOrigin?: string;
  cors?: string;
  instanceId?: string;
  upstreamProtocol?: string;
  config?: string;
  envFile?: string;
  stateDir?: string;
  maxChildren?: string;
  lifecycle?: string;
  idleTimeout?: string;
}

/** Each option that can come from the environment, and its variable. Flags win. */
export const ENV_VARS = {
  host: 'HOST',
  port: 'PORT',
  shared: 'SHARED_SESSION',
  authKey: 'AUTH_KEY',
  authKeyFile: 'AUTH_KEY_FILE',
  heartbeat: 'HEARTBEAT',
  logLevel: 'LOG_LEVEL',
  logFormat: 'LOG_FORMAT',
  maxMessageBytes: 'MAX_MESSAGE_BYTES',
  maxBodyBytes: 'MAX_BODY_BYTES',
  maxStreamBuffer: 'MAX_STREAM_BUFFER',
  replayBuffer: 'REPLAY_BUFFER',
  sessionIdleTimeout: 'SESSION_IDLE_TIMEOUT',
  requestTimeout: 'REQUEST_TIMEOUT',
  drainDelay: 'DRAIN_DELAY',
  shutdownTimeout: 'SHUTDOWN_TIMEOUT',
  headersTimeout: 'HEADERS_TIMEOUT',
  writeTimeout: 'WRITE_TIMEOUT',
  maxSessions: 'MAX_SESSIONS',
  allowEnv: 'ALLOW_ENV',
  envPassthrough: 'ENV_PASSTHROUGH',
  allowOrigin: 'ALLOW_ORIGIN',
  cors: 'CORS',
  instanceId: 'INSTANCE_ID',
  upstreamProtocol: 'UPSTREAM_PROTOCOL',
  config: 'MCP_CONFIG',
  envFile: 'ENV_FILE',
  stateDir: 'STATE_DIR',
  maxChildren: 'MAX_CHILDREN',
  sandbox: 'SANDBOX',
  sandboxUser: 'SANDBOX_USER',
} as const satisfies Partial<Record<keyof RawOptions, string>>;

/** The wrapped command, when not given after `--`. */
const COMMAND_VAR = 'MCP_SERVER_CONFIG';
/** systemd's StateDirectory= sets it. */
const STATE_DIRECTORY_VAR = 'STATE_DIRECTORY';

/**
 * Every variable the proxy reads its own configuration from (keys, key files, OAuth settings, the
 * command): none of them ever reaches a child (servers/child-env.ts), not even by --env-passthrough.
 */
export const PROXY_ENV_NAMES: ReadonlySet<string> = new Set<string>([
  ...Object.values(ENV_VARS), ...Object.values(IDENTITY_ENV_VARS), COMMAND_VAR, STATE_DIRECTORY_VAR,
]);

const MIB = 1024 * 1024;
const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];
const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];
const UPSTREAM_PROTOCOLS: readonly UpstreamProtocol[] = ['auto', 'legacy', 'modern'];
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '::1', 'ip6-localhost']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase()) || (isIP(host) === 4 && host.startsWith('127.'));
}

/** Validates raw options (flags already merged over `env`) and the wrapped command into a Config. */
export function buildConfig(cliOptions: RawOptions, commandWords: string[], env: NodeJS.ProcessEnv): Config {
  const opts = withEnvFallbacks(cliOptions, env);
  const shared = opts.shared ?? true;
  const host = opts.host ?? '0.0.0.0';
  const port = integer('--port', opts.port, 8000, 0, 65535);
  const authKey = resolveAuthKey(opts);
  const identity = identityOf(cliOptions, env);
  const hasCredentials = authKey !== undefined || identity.namedKeys !== undefined || identity.oauth !== undefined;
  if (!hasCredentials && opts.auth !== false && !isLoopbackHost(host)) {
    throw new ConfigError(
      `refusing to listen on ${host} without an access key: set --auth-key, --auth-key-file, --auth-keys-file, --oauth-issuer or AUTH_KEY, ` +
        'or pass --no-auth to serve without one',
    );
  }
  const instanceId = opts.instanceId;
  if (instanceId !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(instanceId)) {
    throw new ConfigError('--instance-id must be 1 to 32 letters, digits, "-" or "_"');
  }
  // systemd's StateDirectory= sets STATE_DIRECTORY (several dirs are colon-separated; the first is ours).
  // Absolute, since sandbox homes under it are bind-mounted by path.
  const stateDirRaw = opts.stateDir ?? (env[STATE_DIRECTORY_VAR]?.split(':')[0] || undefined);
  const stateDir = stateDirRaw === undefined ? undefined : resolve(stateDirRaw);
  const defaults: ServerDefaults = {
    shared,
    childPer: identity.childPer,
    allowEnv: allowList(opts.allowEnv),
    envPassthrough: passthroughNames(opts.envPassthrough),
    upstreamProtocol: oneOf('--upstream-protocol', opts.upstreamProtocol, UPSTREAM_PROTOCOLS, 'auto'),
    requestTimeoutMs: seconds('--request-timeout', opts.requestTimeout, 300),
    maxSessions: integer('--max-sessions', opts.maxSessions, shared ? 0 : 100, 0, 1_000_000),
    lifecycle: oneOf('--lifecycle', opts.lifecycle, ['eager', 'lazy'] as const, 'eager'),
    idleTimeoutMs: seconds('--idle-timeout', opts.idleTimeout, 600),
    sandbox: sandboxSpec(opts, stateDir),
  };
  const fixed = fixedEnv(opts.env ?? []);
  let servers: ServerSpec[];
  let serversFile: Config['serversFile'];
  let warnings: string[] = [];
  if (opts.config !== undefined) {
    if (commandWords.length > 0) throw new UsageError('--config and a command after "--" cannot be used together');
    serversFile = { path: opts.config, envFile: opts.envFile, defaults };
    ({ servers, warnings } = loadServersFile(serversFile, env));
    for (const spec of servers) spec.env = { ...fixed, ...spec.env };
  } else {
    const command = resolveCommand(commandWords, env[COMMAND_VAR]);
    servers = [{
      ...defaults, name: DEFAULT_SERVER_NAME, isDisabled: false, replicas: 1, command: command[0]!, args: command.slice(1), env: fixed,
      cwd: undefined, filter: undefined, prefix: '', lifecycle: 'eager',
    }];
  }
  if (identity.childPer === 'principal' && servers.every((spec) => spec.shared)) {
    throw new UsageError('--child-per principal needs independent servers: --no-shared (or "mode": "independent" in the servers file)');
  }
  if (identity.envFromClaim.length > 0 && identity.oauth === undefined) warnings.push('--env-from-claim has no effect without --oauth-issuer');
  return {
    host,
    port,
    authKey,
    requiresCredentials: hasCredentials,
    heartbeatMs: seconds('--heartbeat', opts.heartbeat, 30),
    logLevel: oneOf('--log-level', opts.logLevel, LOG_LEVELS, 'info'),
    logFormat: oneOf('--log-format', opts.logFormat, LOG_FORMATS, 'text'),
    maxMessageBytes: integer('--max-message-bytes', opts.maxMessageBytes, 32 * MIB, 1024, 2 ** 31),
    maxBodyBytes: integer('--max-body-bytes', opts.maxBodyBytes, 16 * MIB, 1024, 2 ** 31),
    maxStreamBufferBytes: integer('--max-stream-buffer', opts.maxStreamBuffer, 64 * MIB, 1024, 2 ** 31),
    replayBufferEvents: integer('--replay-buffer', opts.replayBuffer, 1000, 0, 1_000_000),
    sessionIdleTimeoutMs: seconds('--session-idle-timeout', opts.sessionIdleTimeout, 600),
    // 5 s covers Kubernetes endpoint propagation; 5 + 4 s fits Cloud Run's 10 s from SIGTERM to SIGKILL.
    drainDelayMs: seconds('--drain-delay', opts.drainDelay, 5),
    shutdownTimeoutMs: seconds('--shutdown-timeout', opts.shutdownTimeout, 4),
    headersTimeoutMs: Math.max(seconds('--headers-timeout', opts.headersTimeout, 15), 100),
    writeTimeoutMs: Math.max(seconds('--write-timeout', opts.writeTimeout, 30), 100),
    allowOrigins: list(opts.allowOrigin).map((origin) => normalizeOrigin('--allow-origin', origin)),
    corsOrigins: list(opts.cors).map((origin) => (origin === '*' ? origin : normalizeOrigin('--cors', origin))),
    instanceId,
    maxChildren: integer('--max-children', opts.maxChildren, 0, 0, 1_000_000),
    stateDir,
    serversFile,
    servers,
    warnings,
    identity,
    authKeyFile: opts.authKeyFile,
    tracing: tracingOf(cliOptions, env),
  };
}

function tracingOf(cli: RawOptions, env: NodeJS.ProcessEnv): TraceConfig | undefined {
  try {
    return buildTraceConfig(cli, env, readText);
  } catch (err) {
    if (err instanceof TraceConfigError) throw new ConfigError(err.message);
    throw err;
  }
}

function identityOf(cli: RawOptions, env: NodeJS.ProcessEnv): IdentityConfig {
  try {
    return buildIdentityConfig(identityWithEnv(cli, env));
  } catch (err) {
    if (err instanceof IdentityConfigError) throw new ConfigError(err.message);
    throw err;
  }
}

/**
 * Reads and validates the servers file (at start and on every reload). `${VAR}` expands from the
 * process environment with the --env-file's variables over it.
 */
export function loadServersFile(file: NonNullable<Config['serversFile']>, env: NodeJS.ProcessEnv): ServersFile {
  const vars: Record<string, string | undefined> = { ...env };
  try {
    if (file.envFile !== undefined) Object.assign(vars, parseEnvFile(readText(file.envFile, '--env-file'), file.envFile));
    return parseServersFile(readText(file.path, '--config'), file.path, vars, file.defaults);
  } catch (err) {
    if (err instanceof ConfigFileError || err instanceof ExpansionError) throw new ConfigError(err.message);
    throw err;
  }
}

function withEnvFallbacks(cli: RawOptions, env: NodeJS.ProcessEnv): RawOptions {
  const merged: RawOptions = { ...cli };
  for (const [key, name] of Object.entries(ENV_VARS) as [keyof typeof ENV_VARS, string][]) {
    const value = env[name];
    if (merged[key] !== undefined || value === undefined || value === '') continue;
    if (key === 'shared') merged.shared = bool(name, value);
    else merged[key] = value;
  }
  return merged;
}

function resolveCommand(words: string[], fromEnv: string | undefined): string[] {
  if (words.length > 0) return words;
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    try {
      const split = splitShellWords(fromEnv);
      if (split.length > 0) return split;
    } catch (err) {
      throw new ConfigError(`MCP_SERVER_CONFIG: ${(err as Error).message}`);
    }
  }
  throw new ConfigError('no server command: give it after "--" (mcpproxy [options] -- <command> [args...]) or in MCP_SERVER_CONFIG');
}

function resolveAuthKey(opts: RawOptions): string | undefined {
  if (opts.auth === false) return undefined;
  if (opts.authKey !== undefined) {
    if (opts.authKey.trim() === '') throw new ConfigError('--auth-key must not be empty');
    return opts.authKey;
  }
  if (opts.authKeyFile === undefined) return undefined;
  const key = readText(opts.authKeyFile, '--auth-key-file').trim();
  if (key === '') throw new ConfigError(`--auth-key-file: ${opts.authKeyFile} is empty`);
  return key;
}

/** `--env-passthrough`: exact names; the proxy's own settings are refused rather than silently dropped. */
function passthroughNames(raw: string | undefined): string[] {
  const names = envNames('--env-passthrough', list(raw));
  const own = names.filter((name) => PROXY_ENV_NAMES.has(name));
  if (own.length > 0) throw new ConfigError(`--env-passthrough: ${own.join(', ')} ${own.length === 1 ? 'is' : 'are'} the proxy's own configuration and never reach a child`);
  return names;
}

function sandboxSpec(opts: RawOptions, stateDir: string | undefined): SandboxSpec {
  try {
    return parseSandboxFlags({ ...opts, stateDir });
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}
