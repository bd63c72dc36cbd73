/**
 * A child's environment, always built from an allow-list, with or without a sandbox: never the
 * proxy's whole environment, which holds its access key, its key files' paths, its OAuth settings and
 * whatever else the operator's shell or container runtime put there (docs/SANDBOX.md, "Environment").
 */
import { PROXY_ENV_NAMES } from '../config/config.ts';
import type { ServerSpec } from '../config/server-spec.ts';
import { isHostPathVisible } from '../upstream/sandbox/bwrap-args.ts';
import { isCredentialVariable, stripUrlCredentials } from '../upstream/sandbox/credentials.ts';
import type { SandboxRun } from '../upstream/sandbox/launch.ts';

/**
 * What any program needs to run: where programs are, who and where it is, its language, time zone
 * and temporary directory. Not TERM: a child's stdio are pipes, and a terminal type only makes tools
 * write colour codes into the log. Under bubblewrap HOME, TMPDIR and PWD are set by bwrap-args.ts.
 */
const PROCESS_NAMES = new Set(['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR']);
const PROCESS_PREFIXES = ['LC_'];
/**
 * Package managers' own settings, compared without case as npm and curl read both: registries,
 * indexes, caches, CA bundles and proxies. Their credentials are taken out (credentials.ts) unless
 * the server's sandbox says `packageCredentials`.
 */
const PACKAGE_PREFIXES = ['NPM_CONFIG_', 'PIP_', 'UV_'];
const PACKAGE_NAMES = new Set(['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'ALL_PROXY']);
/**
 * With the network off, npm and uv are told so: a warm cache is used without trying the network
 * (npm would otherwise retry for a minute before failing), and a cold one fails at once with
 * ENOTCACHED, which child.ts turns into "run mcpproxy prefetch". The server's own env may override.
 */
const OFFLINE_ENV = { npm_config_offline: 'true', npm_config_update_notifier: 'false', UV_OFFLINE: '1' };

export type EnvSource = 'process' | 'package' | undefined;

/** Which allow-list a variable of the proxy's environment is on, if any; the proxy's own settings never are. */
export function envSource(name: string): EnvSource {
  if (PROXY_ENV_NAMES.has(name)) return undefined;
  if (PROCESS_NAMES.has(name) || PROCESS_PREFIXES.some((prefix) => name.startsWith(prefix))) return 'process';
  const upper = name.toUpperCase();
  if (PACKAGE_NAMES.has(upper) || PACKAGE_PREFIXES.some((prefix) => upper.startsWith(prefix))) return 'package';
  return undefined;
}

/**
 * The environment of one child of `spec`: the allowed part of `hostEnv`, then (network off) the
 * offline settings, the operator's `--env-passthrough` names verbatim, the server's `env`, and the
 * session's allowed variables, later ones winning. Under bubblewrap a package manager's variable that
 * names a host path the child cannot see is left out (`npm start` sets npm_config_cache=/root/.npm,
 * which would make npx fail inside): npm and pip then use their defaults in the sandbox home.
 */
export function childEnv(run: SandboxRun | undefined, spec: ServerSpec, sessionEnv: Record<string, string>, hostEnv: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const isBwrap = run?.plan.bwrap !== undefined;
  const keepsCredentials = spec.sandbox.packageCredentials;
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(hostEnv)) {
    if (value === undefined) continue;
    const source = envSource(name);
    if (source === 'process') env[name] = value;
    if (source !== 'package') continue;
    if (!keepsCredentials && isCredentialVariable(name)) continue;
    if (isBwrap && value.startsWith('/') && !isHostPathVisible(run!, value)) continue;
    env[name] = keepsCredentials ? value : stripUrlCredentials(value);
  }
  if (isBwrap && run!.plan.bwrap!.isNetworkOff) Object.assign(env, OFFLINE_ENV);
  for (const name of spec.envPassthrough) if (hostEnv[name] !== undefined) env[name] = hostEnv[name]!;
  return { ...env, ...spec.env, ...sessionEnv };
}
