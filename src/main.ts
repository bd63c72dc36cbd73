/** Entry point: parse the command line, wire the parts, serve, and shut down cleanly on signals. */
import { IndependentBackend, SharedBackend } from './backends.ts';
import { parseCommandLine, VERSION } from './cli.ts';
import type { Config } from './config.ts';
import type { ProxyContext } from './context.ts';
import { RequestEnv } from './http/request-env.ts';
import { ProxyServer } from './http/server.ts';
import { Heartbeat } from './http/sse-writer.ts';
import { Logger } from './log.ts';
import { Metrics } from './metrics.ts';
import { StatelessHandler } from './modern/stateless.ts';
import { StatelessPool } from './modern/stateless-pool.ts';
import { SessionTable } from './session.ts';
import { StreamableTransport } from './transports/streamable.ts';

const DRAIN_POLL_MS = 50;

async function run(config: Config): Promise<void> {
  const log = new Logger(config.logLevel, config.logFormat, process.stderr);
  if (config.authKey !== undefined) log.addSecret(config.authKey);
  const metrics = new Metrics();
  const deps = { config, log, metrics };
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
  log.info('listening', {
    host: address.address, port: address.port, mode: config.shared ? 'shared' : 'independent', version: VERSION,
    command: [config.command, ...config.args].join(' '), auth: config.authKey === undefined ? 'off' : 'on',
  });

  let signals = 0;
  const shutdown = async (signal: NodeJS.Signals): Promise<void> => {
    if (++signals > 1) {
      log.warn('second signal: exiting now', { signal });
      process.exit(130);
    }
    log.info('shutting down', { signal, pending: backend.pendingCount });
    server.stopAccepting();
    // In-flight calls get up to --shutdown-timeout to finish before their streams are ended.
    const deadline = Date.now() + config.shutdownTimeoutMs;
    while (backend.pendingCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
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
