/** Entry point: parse the command line, wire the parts, serve, and shut down cleanly on signals. */
import { IndependentBackend, SharedBackend } from './backends.ts';
import { killAllChildGroups } from './child.ts';
import { parseCommandLine, VERSION } from './cli.ts';
import type { Config } from './config.ts';
import type { ProxyContext } from './context.ts';
import { RequestEnv } from './http/request-env.ts';
import { ProxyServer } from './http/server.ts';
import { Heartbeat } from './http/sse-writer.ts';
import { Logger } from './log.ts';
import { Metrics } from './metrics.ts';
import { detectUpstreamProtocol, type UpstreamEra } from './modern/detect.ts';
import { StatelessHandler } from './modern/stateless.ts';
import { StatelessPool } from './modern/stateless-pool.ts';
import { SessionTable } from './session.ts';
import { StreamableTransport } from './transports/streamable.ts';

const DRAIN_POLL_MS = 50;
/**
 * How long the startup probe waits for `server/discover`; a silent child is legacy after this. Most
 * legacy servers answer a pre-initialize request with an error at once; a silent one delays the first
 * messages by this much (`--upstream-protocol legacy` skips the probe).
 */
const PROBE_TIMEOUT_MS = 5_000;

/**
 * The child's era per --upstream-protocol: legacy without a probe; auto and modern probe a sibling
 * (modern needs the DiscoverResult too, and a child that is not modern is an operator error).
 */
async function upstreamEra(config: Config, log: Logger): Promise<UpstreamEra> {
  if (config.upstreamProtocol === 'legacy') return { era: 'legacy' };
  const era = await detectUpstreamProtocol({
    command: config.command, args: config.args, env: { ...process.env, ...config.fixedEnv },
    timeoutMs: Math.min(PROBE_TIMEOUT_MS, config.requestTimeoutMs), log, clientVersion: VERSION,
  });
  if (config.upstreamProtocol === 'modern' && era.era !== 'modern') {
    throw new Error('--upstream-protocol modern: the MCP server did not answer server/discover as a 2026-07-28 server');
  }
  return era;
}

async function run(config: Config): Promise<void> {
  const log = new Logger(config.logLevel, config.logFormat, process.stderr);
  if (config.authKey !== undefined) log.addSecret(config.authKey);
  const metrics = new Metrics();
  // Detection runs while the proxy listens; the backends hold the child back until it is known.
  const era = upstreamEra(config, log).then(
    (verdict) => {
      log.info('upstream protocol', verdict.era === 'modern' ? { era: 'modern', version: verdict.version } : { era: 'legacy', probe: config.upstreamProtocol === 'legacy' ? 'off' : 'on' });
      return verdict;
    },
    (err: unknown): never => {
      log.error('cannot serve the MCP server', { error: (err as Error).message });
      process.exit(1);
    },
  );
  const deps = { config, log, metrics, era };
  const backend = config.shared ? new SharedBackend(deps) : new IndependentBackend(deps);
  const ctx: ProxyContext = {
    config, log, metrics, backend,
    sessions: new SessionTable(config.maxSessions, config.instanceId),
    heartbeat: new Heartbeat(config.heartbeatMs),
    requestEnv: new RequestEnv(config.allowEnv, config.shared, log),
  };
  const pool = new StatelessPool(deps, backend instanceof SharedBackend ? backend : undefined);
  const stateless = new StatelessHandler(ctx, pool);
  const streamable = new StreamableTransport(ctx, stateless);
  const server = new ProxyServer(ctx, streamable);

  let address;
  try {
    address = await server.listen();
  } catch (err) {
    log.error('cannot listen', { host: config.host, port: config.port, error: (err as NodeJS.ErrnoException).code ?? String(err) });
    await backend.stop();
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
  log.info('listening', {
    host: address.address, port: address.port, mode: config.shared ? 'shared' : 'independent', version: VERSION,
    command: [config.command, ...config.args].join(' '), auth: config.authKey === undefined ? 'off' : 'on',
  });

  let signals = 0;
  const shutdown = async (signal: NodeJS.Signals): Promise<void> => {
    if (++signals > 1) {
      log.warn('second signal: exiting now', { signal });
      killAllChildGroups();
      process.exit(130);
    }
    log.info('shutting down', { signal, pending: backend.pendingCount });
    server.stopAccepting();
    // In-flight calls get up to --shutdown-timeout to finish before their streams are ended.
    const deadline = Date.now() + config.shutdownTimeoutMs;
    while (backend.pendingCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    // Calls still running get an answer rather than a stream that just ends (clients would wait out their own timeouts).
    backend.failPending('proxy shutting down');
    pool.failPending('proxy shutting down');
    ctx.sessions.closeAll('proxy shutting down');
    streamable.stop();
    await stateless.stop();
    ctx.heartbeat.stop();
    await Promise.all([backend.stop(), pool.stop()]);
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
  run(outcome.config).catch((err: unknown) => {
    process.stderr.write(`mcpproxy: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  });
}
