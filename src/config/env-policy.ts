/**
 * Which per-session environment variables a client may set for its own child (independent mode).
 * A client only gets names the operator allowed, and never a variable that changes how a program
 * is loaded or run, where it fetches code from, or where its traffic goes: any of those turns
 * "pass my token" into remote code execution or credential theft.
 */

export interface EnvAllowList {
  /** `*` was given: any name that is not denied. */
  any: boolean;
  exact: ReadonlySet<string>;
  prefixes: readonly string[];
}

/** Names never accepted from a client, compared case-insensitively (some programs read lowercase too). */
const DENIED_NAMES = new Set([
  'PATH', 'HOME', 'SHELL', 'USER', 'LOGNAME', 'PWD', 'TMPDIR', 'TEMP', 'TMP', 'ENV', 'BASH_ENV', 'SHELLOPTS',
  'BASHOPTS', 'PS4', 'PROMPT_COMMAND', 'IFS', 'CDPATH', 'GLOBIGNORE', 'ZDOTDIR', 'GCONV_PATH', 'LOCPATH',
  'GLIBC_TUNABLES', 'HOSTALIASES', 'RESOLV_HOST_CONF', 'LOCALDOMAIN', 'RES_OPTIONS', 'TZDIR', 'NLSPATH',
  'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'CLASSPATH', 'JAVA_HOME', 'ELECTRON_RUN_AS_NODE',
  'PHPRC', 'PHP_INI_SCAN_DIR', 'TCLLIBPATH', 'LUA_INIT', 'LUA_PATH', 'LUA_CPATH', 'GOFLAGS', 'GOPROXY',
  'GOPATH', 'GOROOT', 'GOTOOLCHAIN', 'GONOSUMDB', 'GOPRIVATE', 'GOINSECURE', 'HTTP_PROXY', 'HTTPS_PROXY',
  'ALL_PROXY', 'NO_PROXY', 'FTP_PROXY', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'CURL_CA_BUNDLE',
  'REQUESTS_CA_BUNDLE', 'EDITOR', 'VISUAL', 'PAGER', 'BROWSER', 'AUTH_KEY', 'AUTH_KEY_FILE',
  'MCP_SERVER_CONFIG', 'SHARED_SESSION', 'ALLOW_ENV', 'OPENSSL_CONF', 'OPENSSL_MODULES',
  // Where a container runtime, a cluster client or TLS key logging sends data; compilers npx may run.
  'KUBECONFIG', 'SSLKEYLOGFILE', 'CC', 'CXX', 'CPP', 'LD', 'AR', 'MAKEFLAGS', 'MAKE', 'CURL_HOME', 'WGETRC',
  'GNUPGHOME', 'NETRC', 'GIT_ASKPASS',
  // Paths to credential files on the proxy's host: a client must bring its own credentials, not pick the host's.
  'GOOGLE_APPLICATION_CREDENTIALS', 'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE',
]);

/**
 * Prefixes never accepted: dynamic loaders (LD_, DYLD_), language runtimes and their package managers
 * (NODE_, NPM_CONFIG_, PYTHON, PIP_, UV_, PERL, RUBY, GEM_, BUNDLE_, DOTNET_, COMPLUS_, CORECLR_, DENO_,
 * BUN_, JAVA), shells (BASH_FUNC_ carries exported functions), git (GIT_SSH_COMMAND, GIT_CONFIG_*),
 * malloc tuning, XDG config roots, Docker (DOCKER_HOST would send a container's secrets to another
 * daemon), SSH agents, Rust toolchains, and the proxy's own settings (MCPPROXY_).
 */
const DENIED_PREFIXES = [
  'LD_', 'DYLD_', 'NODE_', 'NPM_CONFIG_', 'YARN_', 'PNPM_', 'COREPACK_', 'PYTHON', 'PIP_', 'PIPX_', 'UV_',
  'POETRY_', 'CONDA', 'VIRTUAL_ENV', 'PERL', 'RUBY', 'GEM_', 'BUNDLE_', 'DOTNET_', 'COMPLUS_', 'CORECLR_',
  'DENO_', 'BUN_', 'BASH_FUNC_', 'GIT_', 'MALLOC_', 'XDG_', 'MCPPROXY_', 'JAVA', 'DOCKER_', 'SSH_', 'CARGO_',
  'RUSTUP_',
];

/**
 * The rule behind `*` and `PREFIX_*`: a name is refused when one of its parts (split at `_`) says it
 * sets where traffic goes, what is trusted, or what code is loaded or run — the kind of variable that
 * turns a child holding the operator's API key into a key sent to the client's host
 * (`OPENAI_BASE_URL`, `AWS_ENDPOINT_URL`, `GITHUB_API_URL`, `AWS_CA_BUNDLE`, `OPENSSL_ENGINES`,
 * `RUSTC_WRAPPER`). Glued forms are caught by substrings (`KUBECONFIG`, `HTTPPROXY`, `BASEURL`, `RUSTFLAGS`), and
 * the Go toolchain's one-word names (`GOSUMDB`, `GOPROXY`, `GOFLAGS`) by shape. Limits: a server that
 * reads its endpoint from a name that says nothing (`FOO`) is not caught, and values are not read.
 * An exact name the operator lists in --allow-env is taken at its word (`DATABASE_URL` for a
 * per-user database); the fixed lists above never pass.
 */
const RISKY_PARTS = new Set([
  // where traffic goes
  'URL', 'URLS', 'URI', 'URIS', 'ENDPOINT', 'ENDPOINTS', 'HOST', 'HOSTS', 'HOSTNAME', 'BASE', 'PROXY', 'PROXIES',
  'ADDR', 'ADDRESS', 'DOMAIN', 'REGISTRY', 'MIRROR', 'INDEX', 'SERVERS', 'DNS', 'RESOLVER',
  // what is trusted
  'CA', 'CAS', 'CAFILE', 'CAPATH', 'CERT', 'CERTS', 'CERTIFICATE', 'CERTIFICATES', 'BUNDLE', 'TRUST', 'TRUSTSTORE',
  'KEYSTORE', 'TLS', 'SSL', 'INSECURE', 'VERIFY', 'SUMDB', 'NOSUMDB',
  // what code is loaded or run, and where programs look for their files
  'ENGINE', 'ENGINES', 'WRAPPER', 'PRELOAD', 'PLUGIN', 'PLUGINS', 'MODULE', 'MODULES', 'LIBRARY', 'LIB', 'LIBS',
  'PATH', 'HOME', 'ROOT', 'DIR', 'DIRS', 'FILE', 'CONF', 'CONFIG', 'OPTIONS', 'OPTS', 'FLAGS', 'SHELL', 'COMMAND',
  'CMD', 'EXEC', 'EXECUTABLE', 'HOOK', 'HOOKS', 'INIT', 'STARTUP', 'INTERPRETER', 'LOADER', 'TOOLCHAIN',
]);
const RISKY_SUBSTRINGS = ['PROXY', 'ENDPOINT', 'BASEURL', 'APIURL', 'CONFIG', 'WRAPPER', 'CABUNDLE', 'CERTFILE', 'SUMDB', 'FLAGS'];
/** GOPROXY, GOSUMDB, GONOSUMCHECK, GOFLAGS, GOENV, GOTOOLCHAIN…: one word after GO (GOOGLE_API_KEY has a `_`). */
const GO_SETTING = /^GO[A-Z0-9]+$/;

/** Whether `*` or a prefix must not admit `name` (the rule above); compared without case. */
export function isRiskyEnvName(name: string): boolean {
  const upper = name.toUpperCase();
  if (GO_SETTING.test(upper)) return true;
  if (RISKY_SUBSTRINGS.some((part) => upper.includes(part))) return true;
  return upper.split('_').some((part) => RISKY_PARTS.has(part));
}

const MAX_NAME_LENGTH = 128;
/**
 * Bounds per value and per session: big enough for any token, small enough to never matter for memory.
 * The value bound sits below Node's 16 KiB header limit so an oversize value gets our 400 with a
 * message, not the HTTP parser's bare one.
 */
export const MAX_ENV_VALUE_BYTES = 8 * 1024;
export const MAX_SESSION_ENV_BYTES = 64 * 1024;
/** Query parameters that belong to the proxy and are never passed to a child. */
export const RESERVED_PARAMS = new Set(['auth_key', 'session_id', 'sessionId', 'servers']);

export function isValidEnvName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}

export function isDeniedEnvName(name: string): boolean {
  const upper = name.toUpperCase();
  return DENIED_NAMES.has(upper) || DENIED_PREFIXES.some((prefix) => upper.startsWith(prefix));
}

/** Names any of `lists` allows (the aggregate takes what any member may use; each member filters again). */
export function unionAllowLists(lists: EnvAllowList[]): EnvAllowList {
  return {
    any: lists.some((list) => list.any),
    exact: new Set(lists.flatMap((list) => [...list.exact])),
    prefixes: lists.flatMap((list) => list.prefixes),
  };
}

/** Parses `--allow-env` items: exact names, `PREFIX_*`, or `*`. Throws on anything else. */
export function parseAllowList(items: string[]): EnvAllowList {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  let any = false;
  for (const item of items) {
    if (item === '*') any = true;
    else if (item.endsWith('*') && isValidEnvName(item.slice(0, -1))) prefixes.push(item.slice(0, -1));
    else if (isValidEnvName(item)) exact.add(item);
    else throw new Error(`"${item}" is not a variable name or NAME_PREFIX_* pattern`);
  }
  return { any, exact, prefixes };
}

/**
 * Exact names are case-sensitive, as the operator wrote them; `*` and prefixes admit no risky name
 * (isRiskyEnvName), and a prefix matches without case, as the deny lists do (`TEAM_*` takes `team_id`).
 */
export function isAllowedEnvName(name: string, allow: EnvAllowList): boolean {
  if (isDeniedEnvName(name)) return false;
  if (allow.exact.has(name)) return true;
  if (isRiskyEnvName(name)) return false;
  const upper = name.toUpperCase();
  return allow.any || allow.prefixes.some((prefix) => upper.startsWith(prefix.toUpperCase()));
}

/** A client's environment that is malformed (bad name, NUL, too big): answered with 400. */
export class EnvInputError extends Error {}

export interface SessionEnv {
  env: Record<string, string>;
  /** Names dropped because they are not allowed; for a log line (names only, never values). */
  ignored: string[];
}

/**
 * Keeps the allowed variables of a client's candidates (query parameters and `X-MCP-Env` headers).
 * Throws EnvInputError for malformed input so the client learns why, rather than running without it.
 */
export function selectSessionEnv(candidates: Iterable<[string, string]>, allow: EnvAllowList): SessionEnv {
  const env: Record<string, string> = {};
  const ignored: string[] = [];
  let totalBytes = 0;
  for (const [name, value] of candidates) {
    if (RESERVED_PARAMS.has(name)) continue;
    if (!isValidEnvName(name)) throw new EnvInputError(`"${name.slice(0, 64)}" is not a valid environment variable name`);
    if (value.includes('\0')) throw new EnvInputError(`the value of ${name} contains a NUL character`);
    const bytes = Buffer.byteLength(value);
    if (bytes > MAX_ENV_VALUE_BYTES) throw new EnvInputError(`the value of ${name} is longer than ${MAX_ENV_VALUE_BYTES} bytes`);
    totalBytes += bytes + name.length;
    if (totalBytes > MAX_SESSION_ENV_BYTES) throw new EnvInputError(`the session environment is larger than ${MAX_SESSION_ENV_BYTES} bytes`);
    if (isAllowedEnvName(name, allow)) env[name] = value;
    else ignored.push(name);
  }
  return { env, ignored };
}

/** Splits one `X-MCP-Env: NAME=value` header value. */
export function parseEnvHeader(value: string): [string, string] {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new EnvInputError('X-MCP-Env takes NAME=value');
  return [value.slice(0, eq).trim(), value.slice(eq + 1)];
}
