/** Typed values from the strings flags and environment variables carry; each failure a ConfigError naming the flag. */
import { readFileSync } from 'node:fs';
import { parseAllowList, isValidEnvName, type EnvAllowList } from './env-policy.ts';

/** A bad flag, value or environment variable: reported as one line, exit code 2. */
export class ConfigError extends Error {}
/** Flags that contradict each other: exit code 2 as well, with the usage hint. */
export class UsageError extends ConfigError {}

export function readText(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${flag}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export function integer(flag: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw.trim());
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${flag} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** Seconds in, milliseconds out; 0 means off where the option allows it. Fractions are allowed. */
export function seconds(flag: string, raw: string | undefined, fallbackSeconds: number): number {
  if (raw === undefined) return fallbackSeconds * 1000;
  const value = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0 || value > 31_536_000) {
    throw new ConfigError(`${flag} must be a number of seconds (0 or more), got "${raw}"`);
  }
  return Math.round(value * 1000);
}

export function oneOf<T extends string>(flag: string, raw: string | undefined, allowed: readonly T[], fallback: T): T {
  if (raw === undefined) return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  throw new ConfigError(`${flag} must be one of ${allowed.join(', ')}, got "${raw}"`);
}

export function bool(name: string, raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(value)) return true;
  if (['false', '0', 'no', 'off'].includes(value)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

export function list(raw: string | undefined): string[] {
  return raw === undefined ? [] : raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
}

export function allowList(raw: string | undefined): EnvAllowList {
  try {
    return parseAllowList(list(raw));
  } catch (err) {
    throw new ConfigError(`--allow-env: ${(err as Error).message}`);
  }
}

/** Exact variable names (no patterns), each checked. */
export function envNames(flag: string, items: string[]): string[] {
  for (const name of items) if (!isValidEnvName(name)) throw new ConfigError(`${flag}: "${name}" is not a variable name`);
  return items;
}

export function fixedEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const name = eq === -1 ? pair : pair.slice(0, eq);
    if (eq === -1 || !isValidEnvName(name)) throw new ConfigError(`--env takes NAME=VALUE with a valid variable name, got "${name}"`);
    env[name] = pair.slice(eq + 1);
  }
  return env;
}

export function normalizeOrigin(flag: string, raw: string): string {
  try {
    const url = new URL(raw);
    if (url.origin === 'null') throw new Error('opaque origin');
    return url.origin;
  } catch {
    throw new ConfigError(`${flag}: "${raw}" is not an origin such as https://app.example.com`);
  }
}
