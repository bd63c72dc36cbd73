/**
 * What counts as a package manager's credential, in its configuration files (.npmrc, pip.conf, uv.toml)
 * and in its variables (npm_config_*, PIP_*, UV_*), and how it is taken out. Pure: text in, text out.
 *
 * The rule: a setting whose key names a secret (`_authToken`, `_auth`, `_password`, `password`,
 * `username`, `token`, a client `key`/`keyfile`/`certfile`/`client-cert`, scoped `//host/:_authToken`
 * included), and the `user:password@` of every URL. What it cannot see: a secret under a key of any
 * other name, or a file the configuration merely points to (a netrc, a keyring).
 */

/** Keys (the part after a `//host/path/:` scope) that hold a secret or point at a private key. */
const SECRET_KEY = /^(_authtoken|_auth|_password|password|passwd|username|token|key|keyfile|certfile|client-cert|client_cert)$/i;
/** Variable names that hold one: `npm_config__authToken`, `UV_INDEX_X_PASSWORD`, `UV_PUBLISH_TOKEN`, `PIP_CLIENT_CERT`. */
const SECRET_NAME = /(_AUTH|TOKEN|PASSWORD|PASSWD|SECRET|CREDENTIALS?|_USERNAME|_KEY|KEYFILE|CERTFILE|CLIENT_CERT)$/i;
/** `scheme://userinfo@`: the userinfo is everything up to the last `@` before the host, without `/`, space or quotes. */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'`]+@/gi;

/** `text` with the `user:password@` of every URL in it removed. */
export function stripUrlCredentials(text: string): string {
  return text.replace(URL_USERINFO, '$1');
}

/** Whether a package manager's variable of this name holds a secret (compared without case). */
export function isCredentialVariable(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * An ini-style configuration file (npmrc, pip.conf; uv.toml's `key = value` lines too) without its
 * secrets: settings whose key names one are dropped, with the continuation lines of a pip value;
 * every URL loses its userinfo. Comments and every other line are kept as they are.
 */
export function sanitizeConfigText(text: string): string {
  return stripUrlCredentials(withoutKeys(text, SECRET_KEY));
}

/** `text` without the settings (a key's line and its continuation lines) whose key matches `keys`. */
export function withoutKeys(text: string, keys: RegExp): string {
  return settingsOf(text).filter((s) => s.key === undefined || !keys.test(s.key)).flatMap((s) => s.lines).join('\n');
}

/** The value text of each setting whose key matches `keys` (continuation lines included). */
export function valuesOfKeys(text: string, keys: RegExp): string[] {
  return settingsOf(text).filter((s) => s.key !== undefined && keys.test(s.key)).map((s) => {
    const [first, ...rest] = s.lines;
    const eq = first!.indexOf('=');
    return [first!.slice((eq !== -1 ? eq : first!.indexOf(':')) + 1), ...rest].join('\n');
  });
}

/** Lines grouped by setting: a `key = value` line with the indented lines that continue it (pip's configparser). */
function settingsOf(text: string): Array<{ key: string | undefined; lines: string[] }> {
  const settings: Array<{ key: string | undefined; lines: string[] }> = [];
  for (const line of text.split('\n')) {
    const last = settings.at(-1);
    if (last?.key !== undefined && /^[ \t]+\S/.test(line)) last.lines.push(line);
    else settings.push({ key: keyOf(line), lines: [line] });
  }
  return settings;
}

/**
 * The key of a `key = value` line (pip also takes `key: value`), without a `//host/:` scope or quotes;
 * undefined for comments, sections and other lines.
 */
function keyOf(line: string): string | undefined {
  const text = line.trim();
  if (text === '' || text.startsWith('#') || text.startsWith(';') || text.startsWith('[')) return undefined;
  const eq = text.indexOf('=');
  const key = eq !== -1 ? text.slice(0, eq) : /^[\w.-]+\s*:/.exec(text)?.[0].slice(0, -1);
  if (key === undefined) return undefined;
  const scoped = key.trim();
  return scoped.slice(scoped.lastIndexOf(':') + 1).trim().replace(/^["']|["']$/g, '');
}
