/**
 * Named access keys: `name:key` lines (blank lines and `#` comments skipped) or a JSON object
 * `{ "name": "key" }`. Each name is a principal. Matching hashes the presented key and compares it
 * with every key's digest, so the time taken does not depend on which key (if any) matched.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

export interface NamedKey {
  name: string;
  key: string;
}

/** Parses a keys file's text; throws an Error naming the line (never the key) when it is wrong. */
export function parseNamedKeys(text: string): NamedKey[] {
  const keys = text.trimStart().startsWith('{') ? fromJson(text) : fromLines(text);
  const names = new Set<string>();
  const values = new Set<string>();
  for (const { name, key } of keys) {
    if (!NAME.test(name)) throw new Error(`key name "${name.slice(0, 64)}" must be 1 to 64 letters, digits, "_", ".", "@" or "-"`);
    if (key.length < 8) throw new Error(`key of "${name}" is shorter than 8 characters`);
    if (names.has(name)) throw new Error(`key name "${name}" appears twice`);
    if (values.has(key)) throw new Error(`key of "${name}" is also another name's key`);
    names.add(name);
    values.add(key);
  }
  return keys;
}

function fromLines(text: string): NamedKey[] {
  const keys: NamedKey[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`line ${index + 1}: expected name:key`);
    keys.push({ name: line.slice(0, colon).trim(), key: line.slice(colon + 1).trim() });
  });
  return keys;
}

function fromJson(text: string): NamedKey[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`not valid JSON: ${(err as Error).message}`);
  }
  return Object.entries(value as Record<string, unknown>).map(([name, key]) => {
    if (typeof key !== 'string') throw new Error(`key of "${name}" must be a string`);
    return { name, key };
  });
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

export class KeyRing {
  #entries: Array<{ name: string; digest: Buffer }>;

  constructor(keys: readonly NamedKey[]) {
    this.#entries = keys.map(({ name, key }) => ({ name, digest: digest(key) }));
  }

  get names(): string[] {
    return this.#entries.map((entry) => entry.name);
  }

  /** The name whose key `presented` is, or undefined; compares against every key, always. */
  match(presented: string): string | undefined {
    const given = digest(presented);
    let found: string | undefined;
    for (const entry of this.#entries) {
      if (timingSafeEqual(given, entry.digest) && found === undefined) found = entry.name;
    }
    return found;
  }
}
