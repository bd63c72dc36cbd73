/** What the proxy relays, added to a client's own capabilities for the handshake a shared child keeps. Pure. */
import { isObject, type JsonObject } from '../protocol/message.ts';

/**
 * `own` with `relayed` added one level deep: a client's `elicitation: { form: {} }` keeps the relayed
 * `url` mode beside it, so what a shared server offers does not depend on which modes its first client
 * named; the client's own entries win. Neither argument is changed.
 */
export function withRelayed(own: JsonObject, relayed: JsonObject): JsonObject {
  const merged: JsonObject = structuredClone(relayed);
  for (const [name, value] of Object.entries(own)) {
    const base = merged[name];
    merged[name] = isObject(base) && isObject(value) ? { ...base, ...value } : value;
  }
  return merged;
}
