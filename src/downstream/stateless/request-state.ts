/**
 * The `requestState` of an `input_required` result the proxy makes for a legacy child's request:
 * opaque to the client, HMAC-protected, bound to this proxy instance, the parked call, the child's
 * request, the call's method and params, the caller, and an expiry. Pure given the key and the time.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface ParkedRef {
  /** Which parked call (a random token, unguessable). */
  token: string;
  /** The inputRequests key the client answers under. */
  key: string;
  /** Digest of method + params as the client sent them (without inputResponses/requestState/_meta). */
  digest: string;
  /** Who may resume: a digest of the caller's environment (its credentials in independent mode). */
  principal: string;
  /** Expiry, ms since the epoch. */
  expiresMs: number;
}

const VERSION = 1;

/**
 * SHA-256 of `value` as canonical JSON: object key order does not change it (a retry may reorder params).
 * Walked with an explicit stack: JSON.stringify with a replacer recurses and overflowed on arguments
 * nested a few thousand deep (500 with a stack trace), which the 2025 eras' paths take at a million.
 */
export function digestOf(value: unknown): string {
  const hash = createHash('sha256');
  const stack: Array<{ text: string } | { value: unknown }> = [{ value }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if ('text' in item) {
      hash.update(item.text);
      continue;
    }
    const current = item.value;
    if (Array.isArray(current)) {
      stack.push({ text: ']' });
      for (let i = current.length - 1; i >= 0; i--) {
        stack.push(current[i] === undefined ? { text: 'null' } : { value: current[i] });
        if (i > 0) stack.push({ text: ',' });
      }
      stack.push({ text: '[' });
    } else if (current !== null && typeof current === 'object') {
      const entries = Object.entries(current).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      stack.push({ text: '}' });
      for (let i = entries.length - 1; i >= 0; i--) {
        stack.push({ value: entries[i]![1] }, { text: `${JSON.stringify(entries[i]![0])}:` });
        if (i > 0) stack.push({ text: ',' });
      }
      stack.push({ text: '{' });
    } else {
      hash.update(JSON.stringify(current) ?? '');
    }
  }
  return hash.digest('base64url');
}

export class RequestStateCodec {
  #key: Buffer;
  #instance: string;

  constructor(key: Buffer, instance: string) {
    this.#key = key;
    this.#instance = instance;
  }

  encode(ref: ParkedRef): string {
    const payload = Buffer.from(JSON.stringify({ v: VERSION, i: this.#instance, ...ref })).toString('base64url');
    return `${payload}.${this.#sign(payload)}`;
  }

  /** The reference, or a reason it is not one of ours or not valid now. */
  decode(state: string, nowMs: number): ParkedRef | { error: string } {
    const dot = state.indexOf('.');
    if (dot <= 0) return { error: 'requestState is not one this proxy issued' };
    const payload = state.slice(0, dot);
    const given = Buffer.from(state.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.#sign(payload), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { error: 'requestState failed its integrity check' };
    let ref: ParkedRef & { v: number; i: string };
    try {
      ref = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return { error: 'requestState is malformed' };
    }
    if (ref.v !== VERSION || ref.i !== this.#instance) return { error: 'requestState belongs to another proxy instance' };
    if (ref.expiresMs < nowMs) return { error: 'requestState has expired' };
    return { token: ref.token, key: ref.key, digest: ref.digest, principal: ref.principal, expiresMs: ref.expiresMs };
  }

  #sign(payload: string): string {
    return createHmac('sha256', this.#key).update(payload).digest('base64url');
  }
}
