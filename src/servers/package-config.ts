/**
 * The operator's npm, pip and uv configuration (private registries, indexes, CA settings, proxies),
 * carried read-only into a server's sandbox, where the home is private and /etc is not shown. Copies
 * are made once per server start in `<stateDir>/carried/<server>`, with the credentials taken out
 * (upstream/sandbox/credentials.ts) unless the server's sandbox says `packageCredentials`, and without
 * the settings that name where on the host they write; what they name for reading is shown.
 */
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, delimiter, dirname, join } from 'node:path';
import { isHostPathVisible, SANDBOX_HOME } from '../upstream/sandbox/bwrap-args.ts';
import { sanitizeConfigText, valuesOfKeys, withoutKeys } from '../upstream/sandbox/credentials.ts';
import type { SandboxPlan } from '../upstream/sandbox/plan.ts';

export interface CarriedFile {
  /** The host file the copy was made from (for the log). */
  from: string;
  /** Where the copy is bound inside. */
  target: string;
}

/**
 * Where npm, pip and uv look for configuration on the host (their documented places), and where each
 * goes inside: files under the proxy's home to the same place under the sandbox home; files a
 * variable names (npm_config_userconfig, npm_config_globalconfig, PIP_CONFIG_FILE, UV_CONFIG_FILE) and
 * system-wide ones (npm's `<prefix>/etc/npmrc`, /etc/pip.conf, $XDG_CONFIG_DIRS/pip/pip.conf,
 * /etc/uv/uv.toml) to their own path, so the variable still means the same file. Only existing files.
 */
export function packageConfigFiles(hostEnv: NodeJS.ProcessEnv, venvs: readonly string[]): CarriedFile[] {
  const home = hostEnv.HOME || homedir();
  const configHome = hostEnv.XDG_CONFIG_HOME || join(home, '.config');
  const configDirs = (hostEnv.XDG_CONFIG_DIRS || '/etc/xdg').split(delimiter).filter((dir) => dir.startsWith('/'));
  const inHome = (path: string): CarriedFile => ({ from: path, target: path.startsWith(`${home}/`) ? join(SANDBOX_HOME, path.slice(home.length + 1)) : path });
  const samePath = (path: string): CarriedFile => ({ from: path, target: path });
  const named = (name: string): string | undefined => Object.entries(hostEnv).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
  const candidates: CarriedFile[] = [
    inHome(join(home, '.npmrc')),
    inHome(join(configHome, 'pip', 'pip.conf')),
    inHome(join(home, '.pip', 'pip.conf')),
    inHome(join(configHome, 'uv', 'uv.toml')),
    ...npmPrefixes(hostEnv).map((prefix) => samePath(join(prefix, 'etc', 'npmrc'))),
    samePath('/etc/pip.conf'),
    ...configDirs.map((dir) => samePath(join(dir, 'pip', 'pip.conf'))),
    samePath('/etc/uv/uv.toml'),
    ...configDirs.map((dir) => samePath(join(dir, 'uv', 'uv.toml'))),
    ...venvs.map((venv) => samePath(join(venv, 'pip.conf'))),
    ...['npm_config_userconfig', 'npm_config_globalconfig', 'PIP_CONFIG_FILE', 'UV_CONFIG_FILE']
      .map(named).filter((path): path is string => path !== undefined && path.startsWith('/')).map(samePath),
  ];
  const seen = new Set<string>();
  return candidates.filter((file) => {
    if (seen.has(file.target) || !isFile(file.from)) return false;
    seen.add(file.target);
    return true;
  });
}

/** npm's global prefix: `npm_config_prefix`, else the directory above the `bin` of the node on PATH. */
function npmPrefixes(hostEnv: NodeJS.ProcessEnv): string[] {
  const prefixes = new Set<string>();
  if (hostEnv.npm_config_prefix?.startsWith('/') === true) prefixes.add(hostEnv.npm_config_prefix);
  for (const dir of (hostEnv.PATH ?? '').split(delimiter)) {
    if (dir.startsWith('/') && basename(dir) === 'bin' && existsSync(join(dir, 'node'))) {
      prefixes.add(dirname(dir));
      break;
    }
  }
  return [...prefixes];
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Variables that name a CA file or directory the package managers (and TLS in general) read. */
const CA_VARIABLES = ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'PIP_CERT', 'npm_config_cafile', 'UV_NATIVE_TLS_CA_FILE'];
/** Settings that name files to read: a CA bundle, a constraints file, a local index or wheel directory. */
const READ_KEYS = /^(cafile|cert|constraint|find-links|index-url|extra-index-url|url)$/i;
/**
 * Settings that name where the package manager writes on the host (its cache, prefix, temp and log):
 * inside they would point at nothing writable, so they are left out and the sandbox home's defaults hold.
 */
const HOST_PLACE_KEYS = /^(cache|cache-dir|prefix|tmp|target|root|src|log|userconfig|globalconfig|init-module)$/i;

/**
 * Host paths the carried configuration and the CA variables name for reading (`cafile`, `cert`,
 * `constraint`, `find-links = /opt/wheels`, `index-url = file:///opt/pypi/simple`), shown read-only
 * so the configuration still works inside. Only existing paths not already in every view (/etc/ssl).
 */
export function referencedPaths(texts: readonly string[], hostEnv: NodeJS.ProcessEnv): string[] {
  const words = texts.flatMap((text) => valuesOfKeys(text, READ_KEYS)).flatMap((value) => value.split(/[\s"',[\]]+/));
  const named = CA_VARIABLES.map((name) => hostEnv[name]).filter((value): value is string => value !== undefined);
  const paths = [...words, ...named].map((word) => (word.startsWith('file://') ? decodeURIComponent(word.slice('file://'.length)) : word))
    .filter((path) => path.startsWith('/') && !isHostPathVisible({}, path) && existsSync(path));
  return [...new Set(paths)];
}

/**
 * Writes the copies of `files` into `<stateDir>/carried/<server>` (made afresh: a file the operator
 * removed is not carried again) and returns the binds and the copies' text; readable by the sandbox
 * user, shown to no one else (the state dir is masked in every view). A file that cannot be read is left out.
 */
export function writeCarried(
  stateDir: string, server: string, files: readonly CarriedFile[], keepsCredentials: boolean, runAs: SandboxPlan['runAs'],
): { binds: Array<{ source: string; target: string }>; texts: string[] } {
  const dir = join(stateDir, 'carried', server);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (runAs !== undefined) chownSync(dir, runAs.uid, runAs.gid);
  const binds: Array<{ source: string; target: string }> = [];
  const texts: string[] = [];
  files.forEach((file, i) => {
    let text: string;
    try {
      text = readFileSync(file.from, 'utf8');
    } catch {
      return;
    }
    const source = join(dir, `${i}-${basename(file.from)}`);
    const placeless = withoutKeys(text, HOST_PLACE_KEYS);
    const carried = keepsCredentials ? placeless : sanitizeConfigText(placeless);
    writeFileSync(source, carried, { mode: 0o600 });
    if (runAs !== undefined) chownSync(source, runAs.uid, runAs.gid);
    binds.push({ source, target: file.target });
    texts.push(carried);
  });
  return { binds, texts };
}
