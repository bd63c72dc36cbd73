/** The command line: flags (each with its environment variable) and the wrapped command after `--`. */
import { Command, CommanderError, Option } from 'commander';
import { buildConfig, ENV_VARS, type Config, type RawOptions } from './config/config.ts';
import { ConfigError } from './config/flag-values.ts';

import { VERSION } from './config/version.ts';
import { CLIENTS, snippet, type ClientName } from './front/console/snippets.ts';

/** `prefetch`: start each server once with the network on to warm its sandbox home's caches, then exit. */
export type CliOutcome = { kind: 'run' | 'prefetch'; config: Config } | { kind: 'exit'; code: number };

function repeatable(flags: string, description: string): Option {
  return new Option(flags, description).argParser((value: string, previous: string[] = []) => [...previous, value]);
}

function option(flags: string, description: string, key?: keyof typeof ENV_VARS): Option {
  const env = key === undefined ? '' : ` [env: ${ENV_VARS[key]}]`;
  return new Option(flags, description + env);
}

function program(): Command {
  return new Command('mcpproxy')
    .usage('[prefetch] [options] -- <command> [args...]  |  [prefetch] [options] --config <servers.json>')
    .description('Serve a stdio MCP server over HTTP: legacy SSE (/sse) and Streamable HTTP (/mcp).\n' +
      'The command may instead come from MCP_SERVER_CONFIG (split like shell words, run without a shell).\n' +
      '"mcpproxy prefetch ..." starts each server once with the network on, so npx/uvx caches in its sandbox home are warm, and exits.')
    .version(VERSION, '-V, --version', 'print the version')
    .argument('[command...]', 'the stdio MCP server to run, after "--"')
    .passThroughOptions()
    .addOption(option('--host <addr>', 'address to listen on (default 0.0.0.0)', 'host'))
    .addOption(option('--port <n>', 'port to listen on; 0 picks a free one (default 8000)', 'port'))
    .addOption(option('--shared', 'one child for every client (default)', 'shared'))
    .addOption(new Option('--no-shared', 'independent mode: one child per client session'))
    .addOption(option('--auth-key <key>', 'access key clients send as auth_key=... or Authorization: Bearer', 'authKey'))
    .addOption(option('--auth-key-file <path>', 'read the access key from a file', 'authKeyFile'))
    .addOption(new Option('--no-auth', 'serve without an access key even on a non-loopback address'))
    .addOption(option('--heartbeat <seconds>', 'comment line on every open SSE stream; 0 turns it off (default 30)', 'heartbeat'))
    .addOption(option('--log-level <level>', 'error, warn, info or debug (default info)', 'logLevel'))
    .addOption(option('--log-format <format>', 'text or json (default text)', 'logFormat'))
    .addOption(option('--max-message-bytes <n>', 'largest message read from the child (default 33554432)', 'maxMessageBytes'))
    .addOption(option('--max-body-bytes <n>', 'largest HTTP request body (default 16777216)', 'maxBodyBytes'))
    .addOption(option('--max-stream-buffer <n>', 'unsent bytes a response (JSON or SSE) may hold for a slow client before it is cut off (default 67108864)', 'maxStreamBuffer'))
    .addOption(option('--replay-buffer <events>', 'events kept per Streamable HTTP stream for Last-Event-ID replay (default 1000)', 'replayBuffer'))
    .addOption(option('--session-idle-timeout <seconds>', 'end Streamable HTTP sessions idle this long; 0 never (default 600)', 'sessionIdleTimeout'))
    .addOption(option('--request-timeout <seconds>', 'fail and cancel a request the child has not answered (default 300)', 'requestTimeout'))
    .addOption(option('--drain-delay <seconds>', 'on SIGTERM, keep serving this long while /readyz says 503, so load balancers move away (default 5)', 'drainDelay'))
    .addOption(option('--shutdown-timeout <seconds>', 'after the drain delay and the listener closes, how long in-flight requests may finish (default 4)', 'shutdownTimeout'))
    .addOption(option('--headers-timeout <seconds>', 'drop a connection that has not sent its request headers in time (default 15)', 'headersTimeout'))
    .addOption(option('--write-timeout <seconds>', 'cut off a response whose unsent bytes make no progress this long (default 30)', 'writeTimeout'))
    .addOption(option('--max-sessions <n>', 'open sessions at most; 0 unlimited (default: 100 independent, unlimited shared)', 'maxSessions'))
    .addOption(option('--allow-env <names>', 'independent mode: per-session variables clients may set (comma list: NAME, PREFIX_*, *)', 'allowEnv'))
    .addOption(option('--env-passthrough <names>', 'variables of the proxy\'s environment every child also gets (comma list of exact names)', 'envPassthrough'))
    .addOption(new Option('--env <NAME=VALUE>', 'a fixed variable for every child (repeatable)').argParser((value: string, previous: string[] = []) => [...previous, value]))
    .addOption(option('--allow-origin <origins>', 'browser origins allowed to connect (comma list)', 'allowOrigin'))
    .addOption(option('--cors <origins>', 'answer CORS for these origins (comma list, or *)', 'cors'))
    .addOption(option('--instance-id <id>', 'prefix for session ids, for routing sessions to instances behind a load balancer', 'instanceId'))
    .addOption(option('--upstream-protocol <mode>', 'child protocol era: auto, legacy or modern (default auto)', 'upstreamProtocol'))
    .addOption(option('--config <path>', 'servers file (mcpServers JSON): /servers/<name>/… per server, the aggregate at /mcp and /sse', 'config'))
    .addOption(option('--env-file <path>', 'NAME=VALUE lines for ${VAR} expansion in the servers file', 'envFile'))
    .addOption(option('--state-dir <path>', 'where lazy servers\' catalogs are kept across restarts', 'stateDir'))
    .addOption(option('--max-children <n>', 'child processes across all servers at most; 0 unlimited (default 0)', 'maxChildren'))
    .addOption(new Option('--lifecycle <mode>', 'default for servers file entries: eager or lazy (default eager)'))
    .addOption(new Option('--idle-timeout <seconds>', 'default for lazy servers: stop after this long unused (default 600)'))
    .addOption(repeatable('--oauth-issuer <url>', 'accept OAuth access tokens from this authorization server (repeatable) [env: OAUTH_ISSUER, comma list]'))
    .addOption(new Option('--public-url <url>', 'the URL clients dial (https://host[:port]); resource identifiers are built from it [env: PUBLIC_URL]'))
    .addOption(repeatable('--oauth-audience <aud>', 'accepted token audience (repeatable; default: this proxy\'s URLs) [env: OAUTH_AUDIENCE, comma list]'))
    .addOption(new Option('--oauth-scopes <list>', 'scopes every request needs, published as scopes_supported [env: OAUTH_SCOPES]'))
    .addOption(new Option('--oauth-jwks-url <url>', 'the issuer\'s JWKS (default: from its RFC 8414 or OpenID metadata) [env: OAUTH_JWKS_URL]'))
    .addOption(new Option('--oauth-introspection-url <url>', 'RFC 7662 endpoint for opaque tokens [env: OAUTH_INTROSPECTION_URL]'))
    .addOption(new Option('--oauth-client-credentials-file <path>', 'client_id:client_secret for introspection [env: OAUTH_CLIENT_CREDENTIALS_FILE]'))
    .addOption(new Option('--oauth-clock-skew <seconds>', 'tolerance for exp, nbf and iat (default 60) [env: OAUTH_CLOCK_SKEW]'))
    .addOption(new Option('--auth-keys-file <path>', 'name:key lines (or JSON); each name is a principal; re-read on SIGHUP [env: AUTH_KEYS_FILE]'))
    .addOption(new Option('--child-per <what>', 'independent mode: a child per session or per principal (default session) [env: CHILD_PER]'))
    .addOption(repeatable('--env-from-claim <NAME=claim>', 'set a child variable from a verified token claim (repeatable) [env: ENV_FROM_CLAIM, comma list]'))
    .addOption(repeatable('--allow-tools <who=globs>', 'tools a principal (name, or claim:value, or scope:s) may use (repeatable) [env: ALLOW_TOOLS, ; list]'))
    .addOption(new Option('--rate-limit <n/period>', 'requests per principal, e.g. 60/m or 5/s [env: RATE_LIMIT]'))
    .addOption(new Option('--audit-log <path>', 'one JSON line per client request, to a file or - for stdout [env: AUDIT_LOG]'))
    .addOption(new Option('--otlp-endpoint <url>', 'export traces over OTLP/HTTP protobuf to this collector (a bare origin gets /v1/traces) [env: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT]'))
    .addOption(new Option('--otlp-headers-file <path>', 'headers for the collector, one "Name: value" per line (beside OTEL_EXPORTER_OTLP_HEADERS)'))
    .addOption(new Option('--otel-enduser', 'record the principal\'s id as enduser.id on server spans'))
    .addOption(option('--sandbox <mode>', 'limits and isolation for children: off, auto (what this host allows) or strict (refuse what it cannot enforce) (default auto)', 'sandbox'))
    .addOption(option('--sandbox-user <user>', 'when running as root, the user children run as (required under strict)', 'sandboxUser'))
    .addOption(new Option('--sandbox-memory <size>', 'memory per child, no swap (default 2GiB)'))
    .addOption(new Option('--sandbox-cpus <n>', 'CPUs per child, fractions allowed (default 1)'))
    .addOption(new Option('--sandbox-pids <n>', 'processes and threads per child (default 256)'))
    .addOption(new Option('--sandbox-nofile <n>', 'open files per child process (default: inherited)'))
    .addOption(new Option('--sandbox-cpu-seconds <n>', 'CPU seconds per child process, then it is stopped (default: none)'))
    .addOption(new Option('--sandbox-lifetime <seconds>', 'wall-clock life of one child, then it is stopped (default: none)'))
    .addOption(new Option('--sandbox-network <on|off>', 'off: children see only their own loopback (default on)'))
    .addOption(repeatable('--sandbox-read <path>', 'a host path every child may read (repeatable; the servers file: sandbox.readOnly)'))
    .addOption(repeatable('--sandbox-write <path>', 'a host path every child may write (repeatable; the servers file: sandbox.writable)'))
    .addOption(new Option('--package-credentials', 'pass npm/pip/uv credentials (tokens, passwords, client keys) in their carried configuration and variables to children (default: left out)'))
    .showHelpAfterError(false)
    // Without an action of its own, commander would take the wrapped command's words for an unknown subcommand.
    .action(() => {});
}

/** `mcpproxy print-config`: the same client snippets as the console's connect panel, on stdout. */
function printConfigCommand(out: (text: string) => void): Command {
  return new Command('print-config')
    .description('print ready-to-paste client configuration for this proxy (the key stays a placeholder)')
    .addOption(new Option('--client <name>', 'the client').choices(CLIENTS).makeOptionMandatory())
    .addOption(new Option('--url <url>', "the proxy's public URL").default('http://127.0.0.1:8000'))
    .addOption(new Option('--server <name>', "one server's own route (/servers/<name>/mcp) instead of the aggregate /mcp"))
    .addOption(new Option('--no-key', 'the proxy asks for no access key: leave the Authorization header out'))
    .action((opts: { client: ClientName; url: string; server?: string; key: boolean }) => {
      if (!/^https?:\/\/[^\s]+$/.test(opts.url)) throw new ConfigError(`--url must be an http(s) URL, got ${JSON.stringify(opts.url)}`);
      if (opts.server !== undefined && !/^[a-z][a-z0-9-]{0,23}$/.test(opts.server)) throw new ConfigError(`--server: not a server name: ${JSON.stringify(opts.server)}`);
      out(`${snippet(opts.client, { baseUrl: opts.url, server: opts.server, hasKey: opts.key }).text.trimEnd()}\n`);
    });
}

/** Parses argv; `--help`/`--version` and bad input end here with their exit codes (0, or 2 with one line). */
export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv, out: (text: string) => void, write: (text: string) => void): CliOutcome {
  const cmd = program();
  let printed = false;
  cmd.addCommand(printConfigCommand((text) => { printed = true; out(text); }));
  for (const command of [cmd, ...cmd.commands]) {
    command.exitOverride();
    command.configureOutput({ writeOut: out, writeErr: write, outputError: () => {} });
  }
  try {
    const isPrefetch = argv[0] === 'prefetch';
    cmd.parse(isPrefetch ? argv.slice(1) : argv, { from: 'user' });
    if (printed) return { kind: 'exit', code: 0 };
    return { kind: isPrefetch ? 'prefetch' : 'run', config: buildConfig(cmd.opts<RawOptions>(), cmd.args, env) };
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return { kind: 'exit', code: 0 };
      write(`mcpproxy: ${err.message.replace(/^error: /, '')} (see --help)\n`);
      return { kind: 'exit', code: 2 };
    }
    if (err instanceof ConfigError) {
      write(`mcpproxy: ${err.message}\n`);
      return { kind: 'exit', code: 2 };
    }
    throw err;
  }
}
