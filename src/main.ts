/** Entry point: parse the command line, build the server units and routes, serve, reload, and shut down cleanly on signals. */
import { startTracing } from './trace/start-tracing.ts';
import { watch } from 'node:fs';
import { resolve } from 'node:path';
import { parseCommandLine } from './cli.ts';
import { loadServersFile, type Config } from './config/config.ts';
import { VERSION } from './config/version.ts';
import type { EndpointShared } from './front/endpoint.ts';
import { Routes } from './front/routes.ts';
import { ProxyServer } from './front/server.ts';
import { buildStatus } from './front/status.ts';
import { Heartbeat } from './http/sse-writer.ts';
import { Logger } from './observe/log.ts';
import { QueuedSink } from './observe/log-sink.ts';
import { Metrics } from './observe/metrics.ts';
import type { BackendDeps } from './servers/backend-deps.ts';
import { prefetch } from './servers/prefetch.ts';
import { ProcSampler } from './observe/proc-stats.ts';
import { Registry } from './servers/registry.ts';
import { killAllChildGroups } from './upstream/child.ts';
import { Authenticator } from './identity/authenticator.ts';
import { Identity } from './identity/identity.ts';
import { AuditLog } from './observe/audit.ts';
import { keyPrincipal } from './identity/principal.ts';
import { readNamedKeys } from './config/identity-config.ts';
import { prepareSandboxHost } from './upstream/sandbox/host.ts';

const DRAIN_POLL_MS = 50;
/** File changes within this window are one reload (editors write a file in several steps). */
const RELOAD_DEBOUNCE_MS = 300;

async function drain(pending: () => number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pending() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
}

/**
 * The host probed once for every server's sandbox: when any server asks for one, or a servers file may
 * add one on reload. `hidden`: paths no child may see even inside a directory its command needs.
 */
async function sandboxHost(config: Config): Promise<BackendDeps['sandboxHost']> {
  if (config.serversFile === undefined && config.servers.every((spec) => spec.sandbox.mode === 'off')) return undefined;
  const user = config.servers.find((spec) => spec.sandbox.user !== undefined)?.sandbox.user;
  // Secrets and the proxy's own state are never in a child's view.
  const hidden = [
    config.serversFile?.path, config.serversFile?.envFile, config.stateDir, config.authKeyFile, config.identity.keysFile, config.identity.credentialsFile, config.tracing?.headersFile,
  ].filter((p) => p !== undefined).map((p) => resolve(p));
  return { facts: await prepareSandboxHost({ user }), hidden };
}

async function runPrefetch(config: Config): Promise<void> {
  const log = new Logger(config.logLevel, config.logFormat, new QueuedSink(process.stderr, config.logFormat));
  const host = await sandboxHost(config);
  process.exitCode = (await prefetch(config, host?.facts, host?.hidden ?? [], log)) ? 0 : 1;
}

async function run(config: Config): Promise<void> {
  const log = new Logger(config.logLevel, config.logFormat, new QueuedSink(process.stderr, config.logFormat));
  if (config.authKey !== undefined) log.addSecret(config.authKey);
  for (const spec of config.servers) for (const value of Object.values(spec.env)) log.addSecret(value);
  for (const warning of config.warnings) log.warn('config', { warning });
  const metrics = new Metrics();
  const { identity: id } = config;
  for (const { key } of id.namedKeys ?? []) log.addSecret(key);
  const authenticator = new Authenticator({ authKey: config.authKey, namedKeys: id.namedKeys, oauth: id.oauth }, (err) => log.warn('authorization server', { error: err.message }));
  const identity = new Identity(authenticator, { rateLimit: id.rateLimit, toolRules: id.toolRules, envFromClaim: id.envFromClaim });
  const audit = id.auditLog === undefined ? undefined : AuditLog.open(id.auditLog, (err) => log.error('audit log unwritable: lines are dropped and counted', { error: err.message }));
  if (audit !== undefined) metrics.auditDropped = () => audit.dropped;
  const spans = config.tracing === undefined ? undefined : startTracing(config.tracing, log, VERSION);
  if (spans !== undefined) metrics.traceSpans = () => spans;
  const shared: EndpointShared = { config, log, metrics, heartbeat: new Heartbeat(config.heartbeatMs), identity, audit };
  const registry = new Registry(config.servers, { config, log, metrics, sandboxHost: await sandboxHost(config) });
  const routes = new Routes(shared, registry, config.serversFile !== undefined);
  const startedMs = Date.now();
  const sampler = new ProcSampler();
  const server = new ProxyServer(shared, routes, () => buildStatus({ registry, routes, metrics, sampler, startedMs }));
  if (config.serversFile === undefined) {
    // One server and nothing else to serve: a server that cannot be served at all ends the proxy, as it always has.
    const unit = registry.units[0]!;
    unit.onStateChange(() => {
      if (unit.fatalReason !== undefined) {
        killAllChildGroups();
        process.exit(1);
      }
    });
  }

  let address;
  try {
    address = await server.listen();
  } catch (err) {
    log.error('cannot listen', { host: config.host, port: config.port, error: (err as NodeJS.ErrnoException).code ?? String(err) });
    await registry.stop();
    process.exit(1);
  }
  if (config.corsOrigins.includes('*') && config.authKey === undefined) {
    log.warn('--cors * without an access key: any web page the user visits can call this server');
  }
  // Last resort: a bug must not leave children running without their proxy.
  process.on('uncaughtException', (err) => {
    log.error('fatal error', { error: err.stack ?? String(err) });
    killAllChildGroups();
    process.exit(1);
  });
  const only = config.servers.length === 1 && config.serversFile === undefined ? config.servers[0]! : undefined;
  log.info('listening', {
    host: address.address, port: address.port, version: VERSION,
    auth: [config.authKey === undefined ? '' : 'key', id.namedKeys === undefined ? '' : 'named-keys', id.oauth === undefined ? '' : 'oauth'].filter(Boolean).join('+') || 'off',
    ...(only === undefined
      ? { config: config.serversFile!.path, servers: config.servers.map((spec) => spec.name).join(',') }
      : { mode: only.shared ? 'shared' : 'independent', command: [only.command, ...only.args].join(' ') }),
  });

  const reload = async (why: string): Promise<void> => {
    if (config.serversFile === undefined) return;
    let loaded;
    try {
      loaded = loadServersFile(config.serversFile, process.env);
    } catch (err) {
      log.error('reload refused: the running configuration stays', { why, error: (err as Error).message });
      return;
    }
    for (const warning of loaded.warnings) log.warn('config', { warning });
    for (const spec of loaded.servers) for (const value of Object.values(spec.env)) log.addSecret(value);
    const diff = registry.apply(loaded.servers);
    log.info('reloaded', {
      why, added: diff.added.filter((unit) => !diff.changed.includes(unit.spec.name)).map((unit) => unit.spec.name).join(',') || undefined,
      changed: diff.changed.join(',') || undefined,
      removed: diff.removed.filter((unit) => !diff.changed.includes(unit.spec.name)).map((unit) => unit.spec.name).join(',') || undefined,
      unchanged: diff.unchanged.join(',') || undefined,
    });
    // Removed and replaced servers drain first: their in-flight calls may finish within --shutdown-timeout.
    await Promise.all(diff.removed.map((unit) => drain(() => unit.pendingCount, config.shutdownTimeoutMs)));
    await routes.apply(diff, 'server removed from the configuration');
    await Promise.all(diff.removed.map((unit) => unit.stop()));
  };
  /** SIGHUP re-reads the keys file: sessions of keys that remain go on; a removed key's sessions end. */
  let keyNames = new Set((id.namedKeys ?? []).map((key) => key.name));
  const reloadKeys = (): void => {
    if (id.keysFile === undefined) return;
    let keys;
    try {
      keys = readNamedKeys(id.keysFile);
    } catch (err) {
      log.error('keys reload refused: the running keys stay', { error: (err as Error).message });
      return;
    }
    for (const { key } of keys) log.addSecret(key);
    authenticator.setKeys(keys);
    const names = new Set(keys.map((key) => key.name));
    const removed = [...keyNames].filter((name) => !names.has(name));
    for (const name of removed) {
      for (const { endpoint } of routes.endpoints) endpoint.ctx.sessions.closeOwnedBy(keyPrincipal(name, false).id, 'its access key was removed');
    }
    log.info('keys reloaded', { keys: names.size, removed: removed.join(',') || undefined });
    keyNames = names;
  };
  if (id.keysFile !== undefined) process.on('SIGHUP', reloadKeys);
  let reloadTimer: NodeJS.Timeout | undefined;
  let reloading = Promise.resolve();
  const scheduleReload = (why: string): void => {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => { reloading = reloading.then(() => reload(why)); }, RELOAD_DEBOUNCE_MS);
  };
  if (config.serversFile !== undefined) {
    process.on('SIGHUP', () => scheduleReload('SIGHUP'));
    try {
      // The directory, not the file: editors and config managers replace files by rename.
      const file = config.serversFile.path;
      const name = file.split('/').pop();
      watch(file.includes('/') ? file.slice(0, file.lastIndexOf('/')) || '/' : '.', (_event, changed) => {
        if (changed === name) scheduleReload('file changed');
      }).unref();
    } catch (err) {
      log.warn('cannot watch the configuration file; reload with SIGHUP', { error: (err as Error).message });
    }
  }

  const pending = (): number => routes.endpoints.reduce((sum, { endpoint }) => sum + endpoint.ctx.backend.pendingCount, 0);
  // Each signal moves shutdown one step on: the first drains, a second cuts the drain delay short, a later one exits now.
  let phase: 'serving' | 'draining' | 'closing' = 'serving';
  let endDrainDelay = (): void => {};
  const shutdown = async (signal: NodeJS.Signals): Promise<void> => {
    if (phase === 'draining') {
      log.info('drain delay cut short', { signal });
      return endDrainDelay();
    }
    if (phase === 'closing') {
      log.warn('second signal: exiting now', { signal });
      killAllChildGroups();
      process.exit(130);
    }
    phase = 'draining';
    // /readyz says 503 while calls are still served: load balancers stop sending before the listener goes.
    server.beginDrain();
    log.info('draining', { signal, drainDelay: config.drainDelayMs / 1000, pending: pending() });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, config.drainDelayMs);
      endDrainDelay = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    phase = 'closing';
    const deadlineMs = Date.now() + config.shutdownTimeoutMs;
    log.info('shutting down', { pending: pending(), shutdownTimeout: config.shutdownTimeoutMs / 1000 });
    server.stopAccepting();
    // In-flight calls get up to --shutdown-timeout to finish before their streams are ended.
    await drain(pending, config.shutdownTimeoutMs);
    log.info('ending calls and streams', { pending: pending() });
    // Calls still running get an answer rather than a stream that just ends (clients would wait out their own timeouts).
    await routes.close('proxy shutting down');
    shared.heartbeat.stop();
    authenticator.stop();
    sampler.stop();
    await registry.stop();
    // The spans of the last calls go out within what is left of --shutdown-timeout (a second at least).
    await spans?.flush(Math.max(1000, deadlineMs - Date.now()));
    await audit?.close();
    server.closeConnections();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', (s) => void shutdown(s));
  process.on('SIGINT', (s) => void shutdown(s));
  // A client vanishing mid-write raises EPIPE on the socket, not on us.
  process.on('SIGPIPE', () => {});
}

const outcome = parseCommandLine(process.argv.slice(2), process.env, (text) => process.stdout.write(text), (text) => process.stderr.write(text));
if (outcome.kind === 'exit') {
  process.exitCode = outcome.code;
} else {
  (outcome.kind === 'prefetch' ? runPrefetch(outcome.config) : run(outcome.config)).catch((err: unknown) => {
    process.stderr.write(`mcpproxy: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  });
}
