/**
 * `${VAR}` and `${VAR:-default}` in config values, from the proxy's environment, so secrets stay out of
 * the file; and `--env-file` (NAME=VALUE lines) as a further source. Pure apart from the caller's env.
 */
import { isValidEnvName } from './env-policy.ts';

export class ExpansionError extends Error {}

const REFERENCE = /\$\{([^}:]*)(?::-([^}]*))?\}/g;

/** Expands every reference in `text`; an unset variable without a default names itself and `where`, never a value. */
export function expandVars(text: string, env: Readonly<Record<string, string | undefined>>, where: string): string {
  return text.replace(REFERENCE, (_match, name: string, fallback: string | undefined) => {
    if (!isValidEnvName(name)) throw new ExpansionError(`${where}: "\${${name}}" is not a valid variable reference`);
    const value = env[name];
    if (value !== undefined && value !== '') return value;
    if (fallback !== undefined) return fallback;
    throw new ExpansionError(`${where}: variable ${name} is not set (use \${${name}:-default} for a default)`);
  });
}

/** NAME=VALUE lines; blank lines and `#` comments skipped; optional `export `; quotes around a value removed. */
export function parseEnvFile(text: string, path: string): Record<string, string> {
  const vars: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim().replace(/^export\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const name = eq === -1 ? line : line.slice(0, eq).trim();
    if (eq === -1 || !isValidEnvName(name)) throw new ExpansionError(`--env-file ${path}:${index + 1}: expected NAME=VALUE`);
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0]) value = value.slice(1, -1);
    vars[name] = value;
  });
  return vars;
}
