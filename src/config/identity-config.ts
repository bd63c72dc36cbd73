/**
 * The identity flags: OAuth resource server settings, named keys, what a principal drives (child per
 * principal, env from claims, tool rules, rate limit) and the audit log. Validated at start like every
 * other flag: a bad value is one line and exit code 2.
 */
import { readFileSync } from 'node:fs';
import { parseClientCredentials } from '../identity/introspection.ts';
import { parseNamedKeys, type NamedKey } from '../identity/named-keys.ts';
import type { OAuthSettings } from '../identity/oauth-verifier.ts';
import { parseRateLimit, type RateLimit } from '../identity/token-bucket.ts';
import { parseToolRule, type ToolRule } from '../identity/tool-rules.ts';
import { isValidEnvName } from './env-policy.ts';
import type { ChildPer } from './server-spec.ts';

export interface IdentityRaw {
  oauthIssuer?: string[];
  publicUrl?: string;
  oauthAudience?: string[];
  oauthScopes?: string;
  oauthJwksUrl?: string;
  oauthIntrospectionUrl?: string;
  oauthClientCredentialsFile?: string;
  oauthClockSkew?: string;
  authKeysFile?: string;
  childPer?: string;
  envFromClaim?: string[];
  allowTools?: string[];
  rateLimit?: string;
  auditLog?: string;
}

/** Environment fallbacks; list-valued ones split on `,` (`;` for ALLOW_TOOLS, whose globs hold commas). */
export const IDENTITY_ENV_VARS = {
  oauthIssuer: 'OAUTH_ISSUER',
  publicUrl: 'PUBLIC_URL',
  oauthAudience: 'OAUTH_AUDIENCE',
  oauthScopes: 'OAUTH_SCOPES',
  oauthJwksUrl: 'OAUTH_JWKS_URL',
  oauthIntrospectionUrl: 'OAUTH_INTROSPECTION_URL',
  oauthClientCredentialsFile: 'OAUTH_CLIENT_CREDENTIALS_FILE',
  oauthClockSkew: 'OAUTH_CLOCK_SKEW',
  authKeysFile: 'AUTH_KEYS_FILE',
  childPer: 'CHILD_PER',
  envFromClaim: 'ENV_FROM_CLAIM',
  allowTools: 'ALLOW_TOOLS',
  rateLimit: 'RATE_LIMIT',
  auditLog: 'AUDIT_LOG',
} as const satisfies Record<keyof IdentityRaw, string>;

const LIST_SEPARATOR: Partial<Record<keyof IdentityRaw, string>> = { oauthIssuer: ',', oauthAudience: ',', envFromClaim: ',', allowTools: ';' };

export interface IdentityConfig {
  oauth: OAuthSettings | undefined;
  /** Re-read on SIGHUP. */
  keysFile: string | undefined;
  /** The introspection client's credentials file, if any. */
  credentialsFile: string | undefined;
  namedKeys: NamedKey[] | undefined;
  /** `--child-per`: the default of every independent server (a servers file entry may say otherwise). */
  childPer: ChildPer;
  envFromClaim: Array<{ name: string; claim: string }>;
  toolRules: ToolRule[];
  rateLimit: RateLimit | undefined;
  /** A file path, or '-' for stdout. */
  auditLog: string | undefined;
}

export class IdentityConfigError extends Error {}

export function identityWithEnv(cli: IdentityRaw, env: NodeJS.ProcessEnv): IdentityRaw {
  const merged: Record<string, unknown> = { ...cli };
  for (const [key, name] of Object.entries(IDENTITY_ENV_VARS) as Array<[keyof IdentityRaw, string]>) {
    const value = env[name];
    if (merged[key] !== undefined || value === undefined || value === '') continue;
    const separator = LIST_SEPARATOR[key];
    merged[key] = separator === undefined ? value : value.split(separator).map((item) => item.trim()).filter((item) => item !== '');
  }
  return merged as IdentityRaw;
}

/** Reads and validates a keys file (at start and on SIGHUP). */
export function readNamedKeys(path: string): NamedKey[] {
  try {
    return parseNamedKeys(readFileSync(path, 'utf8'));
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new IdentityConfigError(`--auth-keys-file: ${path}: ${reason}`);
  }
}

const fail = (message: string): never => {
  throw new IdentityConfigError(message);
};

function httpUrl(flag: string, raw: string, isLoopbackHttpOk: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail(`${flag}: "${raw}" is not a URL`);
  }
  const isLoopback = /^(localhost|127(?:\.\d+){3}|\[::1\])$/i.test(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHttpOk && isLoopback)) {
    fail(`${flag}: "${raw}" must be https (plain http only for a loopback host)`);
  }
  return url;
}

function oauthOf(raw: IdentityRaw): OAuthSettings | undefined {
  const issuers = raw.oauthIssuer ?? [];
  if (issuers.length === 0) {
    if (raw.oauthJwksUrl !== undefined || raw.oauthIntrospectionUrl !== undefined || raw.oauthAudience !== undefined) {
      fail('--oauth-jwks-url, --oauth-introspection-url and --oauth-audience need --oauth-issuer');
    }
    return undefined;
  }
  for (const issuer of issuers) httpUrl('--oauth-issuer', issuer, true);
  if (raw.publicUrl === undefined) fail('--oauth-issuer needs --public-url (the URL clients dial, e.g. https://mcp.example.com)');
  const pub = httpUrl('--public-url', raw.publicUrl!, true);
  if (pub.pathname !== '/' || pub.search !== '' || pub.hash !== '') fail('--public-url must be scheme://host[:port] with no path');
  if (raw.oauthJwksUrl !== undefined) httpUrl('--oauth-jwks-url', raw.oauthJwksUrl, true);
  if (raw.oauthJwksUrl !== undefined && issuers.length > 1) fail('--oauth-jwks-url applies to one issuer; with several, each one\'s metadata names its keys');
  let introspection: OAuthSettings['introspection'];
  if (raw.oauthIntrospectionUrl !== undefined) {
    httpUrl('--oauth-introspection-url', raw.oauthIntrospectionUrl, true);
    const file = raw.oauthClientCredentialsFile ?? fail('--oauth-introspection-url needs --oauth-client-credentials-file');
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      fail(`--oauth-client-credentials-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`);
    }
    try {
      introspection = { url: raw.oauthIntrospectionUrl, ...parseClientCredentials(text) };
    } catch (err) {
      fail(`--oauth-client-credentials-file: ${file}: ${(err as Error).message}`);
    }
  }
  const skew = Number(raw.oauthClockSkew ?? '60');
  if (!Number.isFinite(skew) || skew < 0 || skew > 3600) fail('--oauth-clock-skew must be 0 to 3600 seconds');
  return {
    issuers,
    publicUrl: pub.origin,
    audiences: raw.oauthAudience ?? [],
    scopes: (raw.oauthScopes ?? '').split(/[\s,]+/).filter((scope) => scope !== ''),
    jwksUrl: raw.oauthJwksUrl,
    introspection,
    clockSkewS: skew,
  };
}

export function buildIdentityConfig(raw: IdentityRaw): IdentityConfig {
  const envFromClaim = (raw.envFromClaim ?? []).map((pair) => {
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq);
    if (eq <= 0 || !isValidEnvName(name) || pair.slice(eq + 1) === '') fail(`--env-from-claim takes NAME=claim, got "${pair.slice(0, 80)}"`);
    return { name, claim: pair.slice(eq + 1) };
  });
  const toolRules = (raw.allowTools ?? []).map((text) => {
    try {
      return parseToolRule(text);
    } catch (err) {
      return fail(`--allow-tools: ${(err as Error).message}`);
    }
  });
  let rateLimit: RateLimit | undefined;
  try {
    rateLimit = raw.rateLimit === undefined ? undefined : parseRateLimit(raw.rateLimit);
  } catch (err) {
    fail(`--rate-limit ${(err as Error).message}`);
  }
  const childPer = raw.childPer ?? 'session';
  if (childPer !== 'session' && childPer !== 'principal') fail('--child-per must be session or principal');
  return {
    oauth: oauthOf(raw),
    keysFile: raw.authKeysFile,
    credentialsFile: raw.oauthClientCredentialsFile,
    namedKeys: raw.authKeysFile === undefined ? undefined : readNamedKeys(raw.authKeysFile),
    childPer: childPer as ChildPer,
    envFromClaim,
    toolRules,
    rateLimit,
    auditLog: raw.auditLog,
  };
}
