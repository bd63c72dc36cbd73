/**
 * Client request headers passed on to remote members that list them in `forwardHeaders`. An aggregate
 * session's environment map carries them beside its variables, keyed `header:<name>`: ':' is in no
 * variable name and no header name, so a header can never pass for a variable (and reach a stdio
 * child) nor a variable for a header. Pure.
 */

const HEADER_KEY = 'header:';

/** Whether an environment key holds a forwarded header rather than a variable. */
export function isHeaderKey(key: string): boolean {
  return key.startsWith(HEADER_KEY);
}

/** `headers` keyed for an environment map that also holds variables. */
export function headersBesideVariables(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) out[`${HEADER_KEY}${name}`] = value;
  return out;
}

/** The headers of such a map that a member forwarding `names` takes, by their own names. */
export function headersFor(names: readonly string[], env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = env[`${HEADER_KEY}${name}`];
    if (value !== undefined) out[name] = value;
  }
  return out;
}
