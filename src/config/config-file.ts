/**
 * The servers file: the `mcpServers` JSON that Claude Desktop, Cursor and Claude Code use (VS Code's
 * `servers` too), with mcpproxy's own per-server keys beside the standard ones. Pure: text and an
 * environment in, validated ServerSpecs and warnings out; a bad file is one ConfigError naming the place.
 */
import { parseAllowList } from './env-policy.ts';
import { ExpansionError, expandVars } from './expand.ts';
import { jsonErrorOffset } from './json-error-offset.ts';
import { parseSandboxConfig } from '../upstream/sandbox/options.ts';
import { remoteOf } from './remote-entry.ts';
import { SERVER_NAME_RE, type NameFilter, type ServerSpec, type UpstreamProtocol } from './server-spec.ts';

export class ConfigFileError extends Error {}

/** What an entry does not say comes from the flags. */
export type ServerDefaults = Omit<ServerSpec, 'name' | 'isDisabled' | 'command' | 'args' | 'env' | 'cwd' | 'prefix' | 'filter' | 'replicas' | 'remote'>;

export interface ServersFile {
  servers: ServerSpec[];
  /** Unknown keys and the like: logged, never fatal (files are shared with clients that add their own keys). */
  warnings: string[];
}

const STANDARD_KEYS = ['command', 'args', 'env', 'cwd', 'type', 'disabled', 'url', 'headers'];
const OWN_KEYS = ['tls', 'forwardHeaders', 'mode', 'childPer', 'replicas', 'allowEnv', 'upstreamProtocol', 'requestTimeout', 'maxSessions', 'tools', 'prefix', 'lifecycle', 'idleTimeout', 'sandbox'];
const KNOWN_KEYS = new Set([...STANDARD_KEYS, ...OWN_KEYS]);

type Entry = Record<string, unknown>;

export function parseServersFile(text: string, path: string, env: Readonly<Record<string, string | undefined>>, defaults: ServerDefaults): ServersFile {
  const root = parseJsonWithPosition(text, path);
  if (!isPlainObject(root)) throw new ConfigFileError(`${path}: expected a JSON object with "mcpServers"`);
  const table = root.mcpServers ?? root.servers;
  if (!isPlainObject(table)) throw new ConfigFileError(`${path}: expected "mcpServers" (or VS Code's "servers") to be an object of servers`);
  const warnings: string[] = [];
  const servers = Object.entries(table).map(([name, entry]) => parseEntry(name, entry, { env, defaults, warnings, path }));
  if (servers.length === 0) throw new ConfigFileError(`${path}: "mcpServers" lists no server`);
  return { servers, warnings };
}

interface EntryContext {
  env: Readonly<Record<string, string | undefined>>;
  defaults: ServerDefaults;
  warnings: string[];
  path: string;
}

function parseEntry(name: string, entry: unknown, ctx: EntryContext): ServerSpec {
  const at = `${ctx.path}: server "${name.slice(0, 40)}"`;
  if (!SERVER_NAME_RE.test(name)) {
    throw new ConfigFileError(`${at}: names are 1 to 24 lower-case letters, digits or "-", starting with a letter (so <server>__<tool> stays unambiguous)`);
  }
  if (!isPlainObject(entry)) throw new ConfigFileError(`${at}: expected an object`);
  const unknown = Object.keys(entry).filter((key) => !KNOWN_KEYS.has(key));
  if (unknown.length > 0) ctx.warnings.push(`${at}: unknown keys ignored: ${unknown.join(', ')}`);
  if (entry.url === undefined && entry.type !== undefined && entry.type !== 'stdio') {
    throw new ConfigFileError(`${at}: "type" ${JSON.stringify(entry.type)?.slice(0, 40)} needs a "url"; a stdio server has type "stdio"`);
  }
  const expand = (value: string, key: string): string => {
    try {
      return expandVars(value, ctx.env, `${at}, ${key}`);
    } catch (err) {
      throw new ConfigFileError((err as ExpansionError).message);
    }
  };
  const { defaults } = ctx;
  const shared = mapOptional(oneOf(entry, 'mode', ['shared', 'independent'] as const, at), (mode) => mode === 'shared') ?? defaults.shared;
  const remote = entry.url === undefined ? undefined : remoteEntry(entry, shared, expand, at);
  return {
    name,
    isDisabled: optional(entry, 'disabled', 'boolean', at) ?? false,
    command: remote === undefined ? expand(required(entry, 'command', at), 'command') : '',
    args: stringList(entry, 'args', at).map((arg, i) => expand(arg, `args[${i}]`)),
    env: stringMap(entry, 'env', at, expand),
    cwd: mapOptional(optional(entry, 'cwd', 'string', at), (cwd) => expand(cwd, 'cwd')),
    shared,
    childPer: childPerOf(entry, shared, at) ?? defaults.childPer,
    replicas: replicasOf(entry, at, defaults.shared),
    allowEnv: allowEnvOf(entry, at) ?? defaults.allowEnv,
    envPassthrough: defaults.envPassthrough,
    upstreamProtocol: oneOf(entry, 'upstreamProtocol', ['auto', 'legacy', 'modern'] as UpstreamProtocol[], at) ?? defaults.upstreamProtocol,
    requestTimeoutMs: secondsOf(entry, 'requestTimeout', at) ?? defaults.requestTimeoutMs,
    maxSessions: wholeNumber(entry, 'maxSessions', at) ?? defaults.maxSessions,
    filter: filterOf(entry, at),
    prefix: prefixOf(entry, name, at),
    lifecycle: oneOf(entry, 'lifecycle', ['eager', 'lazy'] as const, at) ?? defaults.lifecycle,
    idleTimeoutMs: secondsOf(entry, 'idleTimeout', at) ?? defaults.idleTimeoutMs,
    sandbox: sandboxOf(entry, name, defaults, at),
    ...(remote === undefined ? {} : { remote }),
  };
}

function remoteEntry(entry: Entry, isShared: boolean, expand: (value: string, key: string) => string, at: string): ServerSpec['remote'] {
  try {
    return remoteOf(entry, isShared, expand);
  } catch (err) {
    if (err instanceof ConfigFileError) throw err;
    throw new ConfigFileError(`${at}: ${(err as Error).message}`);
  }
}

/** JSON.parse with the error's place as line and column. */
function parseJsonWithPosition(text: string, path: string): unknown {
  const body = text.replace(/^\uFEFF/, '');
  try {
    return JSON.parse(body);
  } catch (err) {
    const offset = Math.max(0, jsonErrorOffset(body));
    const before = body.slice(0, offset).split('\n');
    const found = offset >= body.length ? 'the text ends too early' : `unexpected ${JSON.stringify(body.slice(offset, offset + 10))}`;
    throw new ConfigFileError(`${path}: not valid JSON at line ${before.length}, column ${before.at(-1)!.length + 1}: ${found} (${(err as Error).message.slice(0, 80)})`);
  }
}

function isPlainObject(value: unknown): value is Entry {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function mapOptional<T, U>(value: T | undefined, map: (value: T) => U): U | undefined {
  return value === undefined ? undefined : map(value);
}

function optional<T extends 'string' | 'boolean' | 'number'>(
  entry: Entry, key: string, type: T, at: string,
): (T extends 'string' ? string : T extends 'boolean' ? boolean : number) | undefined {
  const value = entry[key];
  if (value === undefined) return undefined;
  if (typeof value !== type) throw new ConfigFileError(`${at}: "${key}" must be a ${type}, got ${JSON.stringify(value)?.slice(0, 60)}`);
  return value as never;
}

function required(entry: Entry, key: string, at: string): string {
  const value = optional(entry, key, 'string', at);
  if (value === undefined || value.trim() === '') throw new ConfigFileError(`${at}: "${key}" is required`);
  return value;
}

function oneOf<T extends string>(entry: Entry, key: string, allowed: readonly T[], at: string): T | undefined {
  const value = entry[key];
  if (value === undefined) return undefined;
  if ((allowed as readonly unknown[]).includes(value)) return value as T;
  throw new ConfigFileError(`${at}: "${key}" must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)?.slice(0, 60)}`);
}

function stringList(entry: Entry, key: string, at: string): string[] {
  const value = entry[key];
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw new ConfigFileError(`${at}: "${key}" must be a list of strings`);
  return value;
}

function stringMap(entry: Entry, key: string, at: string, expand: (value: string, key: string) => string): Record<string, string> {
  const value = entry[key];
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw new ConfigFileError(`${at}: "${key}" must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [name, item] of Object.entries(value)) {
    if (typeof item !== 'string' && typeof item !== 'number' && typeof item !== 'boolean') throw new ConfigFileError(`${at}: "${key}.${name}" must be a string`);
    out[name] = expand(String(item), `${key}.${name}`);
  }
  return out;
}

function secondsOf(entry: Entry, key: string, at: string): number | undefined {
  const value = optional(entry, key, 'number', at);
  if (value === undefined) return undefined;
  if (!Number.isFinite(value) || value < 0 || value > 31_536_000) throw new ConfigFileError(`${at}: "${key}" must be a number of seconds (0 or more)`);
  return Math.round(value * 1000);
}

function wholeNumber(entry: Entry, key: string, at: string): number | undefined {
  const value = optional(entry, key, 'number', at);
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 0) throw new ConfigFileError(`${at}: "${key}" must be a whole number (0 or more)`);
  return value;
}

function replicasOf(entry: Entry, at: string, sharedByDefault: boolean): number {
  const value = wholeNumber(entry, 'replicas', at);
  if (value === undefined) return 1;
  if (value < 1 || value > 64) throw new ConfigFileError(`${at}: "replicas" must be from 1 to 64`);
  const shared = entry.mode === undefined ? sharedByDefault : entry.mode === 'shared';
  if (value > 1 && !shared) throw new ConfigFileError(`${at}: "replicas" needs mode "shared" (independent mode already runs a child per session)`);
  return value;
}

/** `childPer` says how an independent server's children are shared out: on a shared server it is a mistake, not a no-op. */
function childPerOf(entry: Entry, isShared: boolean, at: string): ServerSpec['childPer'] | undefined {
  const value = oneOf(entry, 'childPer', ['session', 'principal'] as const, at);
  if (value !== undefined && isShared) throw new ConfigFileError(`${at}: "childPer" needs mode "independent" (a shared server runs one child for everyone)`);
  return value;
}

function allowEnvOf(entry: Entry, at: string): ServerSpec['allowEnv'] | undefined {
  const value = entry.allowEnv;
  if (value === undefined) return undefined;
  const items = typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter((s) => s !== '') : value;
  if (!Array.isArray(items) || !items.every((item) => typeof item === 'string')) throw new ConfigFileError(`${at}: "allowEnv" must be a list of names`);
  try {
    return parseAllowList(items);
  } catch (err) {
    throw new ConfigFileError(`${at}: "allowEnv": ${(err as Error).message}`);
  }
}

function filterOf(entry: Entry, at: string): NameFilter | undefined {
  const value = entry.tools;
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) throw new ConfigFileError(`${at}: "tools" must be an object with "allow" and/or "deny" lists`);
  const allow = stringList(value, 'allow', `${at}, tools`);
  const deny = stringList(value, 'deny', `${at}, tools`);
  return { allow: value.allow === undefined ? ['*'] : allow, deny };
}

/** The entry's `sandbox` key over the flags' spec; errors name the key as `servers.<name>.sandbox.<key>`. */
function sandboxOf(entry: Entry, name: string, defaults: ServerDefaults, at: string): ServerSpec['sandbox'] {
  try {
    return parseSandboxConfig(entry.sandbox, defaults.sandbox, `servers.${name}.sandbox`);
  } catch (err) {
    throw new ConfigFileError(`${at}: ${(err as Error).message}`);
  }
}

function prefixOf(entry: Entry, name: string, at: string): string {
  const value = optional(entry, 'prefix', 'string', at);
  if (value === undefined) return name;
  if (value !== '' && !/^[a-zA-Z0-9-]{1,24}$/.test(value)) throw new ConfigFileError(`${at}: "prefix" must be "" or 1 to 24 letters, digits or "-"`);
  return value;
}
