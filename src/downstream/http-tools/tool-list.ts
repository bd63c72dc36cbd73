/** A server's whole tool list (every page), read through a StatelessTarget like any caller's `tools/list`. */
import { ProxyError } from '../../protocol/errors.ts';
import { isObject, type JsonObject } from '../../protocol/message.ts';
import type { StatelessTarget } from '../../servers/contract.ts';
import { sendRequest, type GateFor } from './request.ts';

/** A server whose cursors never end must not hold the facade forever. */
const MAX_PAGES = 100;

/** The tools, in the server's order; a 503 (Retry-After) when the server cannot answer. */
export async function listTools(target: StatelessTarget, gateFor: GateFor): Promise<JsonObject[]> {
  const tools: JsonObject[] = [];
  let cursor: unknown;
  for (let page = 0; page < MAX_PAGES; page++) {
    const res = await sendRequest(target, gateFor, 'tools/list', cursor === undefined ? {} : { cursor }).reply;
    if (res.error !== undefined) {
      throw new ProxyError(503, res.error.code, `tools/list failed: ${res.error.message}`, { headers: { 'retry-after': '5' } });
    }
    const result = isObject(res.result) ? res.result : {};
    if (Array.isArray(result.tools)) tools.push(...result.tools.filter(isObject));
    cursor = result.nextCursor;
    if (typeof cursor !== 'string' || cursor === '') break;
  }
  return tools;
}

/** The tool names a caller (principal and environment) was last seen to have: a call checks here before asking again. */
export class KnownTools {
  #byEnv = new Map<string, Set<string>>();
  #reading = new Map<string, Promise<JsonObject[]>>();
  #maxEntries: number;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  has(envKey: string, name: string): boolean {
    return this.#byEnv.get(envKey)?.has(name) === true;
  }

  /** A fresh read (concurrent readers for one environment share it), remembered for `has`. */
  read(envKey: string, target: StatelessTarget, gateFor: GateFor): Promise<JsonObject[]> {
    let reading = this.#reading.get(envKey);
    if (reading !== undefined) return reading;
    reading = listTools(target, gateFor).then((tools) => {
      this.#byEnv.delete(envKey); // re-inserted last: the oldest environment is the first dropped
      if (this.#byEnv.size >= this.#maxEntries) this.#byEnv.delete(this.#byEnv.keys().next().value!);
      this.#byEnv.set(envKey, new Set(tools.map((tool) => String(tool.name))));
      return tools;
    }).finally(() => this.#reading.delete(envKey));
    this.#reading.set(envKey, reading);
    return reading;
  }
}
