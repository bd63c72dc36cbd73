/**
 * Names and URIs of many servers in one namespace, reversibly. Tools and prompts become
 * `<prefix>__<name>`, forced into `^[a-zA-Z0-9_-]{1,64}$` (Claude and OpenAI refuse anything else); a
 * name that would be longer is cut and given a short hash of the whole, so it stays unique and stable.
 * Resource URIs become `<prefix>+<uri>` (still a URI: `+` is a scheme character). Pure.
 */
import { createHash } from 'node:crypto';

export const MAX_NAME_LENGTH = 64;
const SEPARATOR = '__';
const HASH_CHARS = 8;

/** The aggregate's name for a member's tool or prompt, and whether it had to be changed beyond the prefix. */
export function exposedName(prefix: string, name: string): { name: string; isRenamed: boolean } {
  const joined = prefix === '' ? name : `${prefix}${SEPARATOR}${name}`;
  let safe = joined.replace(/[^a-zA-Z0-9_-]/g, '_');
  if (safe.length > MAX_NAME_LENGTH) {
    const hash = createHash('sha256').update(joined).digest('hex').slice(0, HASH_CHARS);
    safe = `${safe.slice(0, MAX_NAME_LENGTH - HASH_CHARS - 1)}_${hash}`;
  }
  if (safe === '') safe = '_';
  return { name: safe, isRenamed: safe !== joined };
}

export function exposedUri(prefix: string, uri: string): string {
  return prefix === '' ? uri : `${prefix}+${uri}`;
}

/** The member URI behind an exposed one, if it carries `prefix`. */
export function memberUri(prefix: string, uri: string): string | undefined {
  if (prefix === '') return uri;
  return uri.startsWith(`${prefix}+`) ? uri.slice(prefix.length + 1) : undefined;
}

/** A cursor that names the last item a client saw, so it survives a catalog change (items after it by name). */
export function encodeCursor(lastName: string): string {
  return Buffer.from(JSON.stringify({ after: lastName })).toString('base64url');
}

export function decodeCursor(cursor: unknown): string | undefined {
  if (typeof cursor !== 'string') return undefined;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null && typeof (value as { after?: unknown }).after === 'string' ? (value as { after: string }).after : undefined;
  } catch {
    return undefined;
  }
}
