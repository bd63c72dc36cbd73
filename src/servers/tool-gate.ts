/**
 * A server's `tools` filter on its own routes: what it hides is left out of every list answer and
 * refused when called by name, exactly as in the aggregate. Sits between a transport and the backend:
 * requests are checked on the way in, list results filtered on the way out.
 */
import { RpcCode } from '../protocol/errors.ts';
import { errorResponse, isObject, isRequest, isResponse, type JsonObject, type JsonRpcId, type JsonRpcMessage } from '../protocol/message.ts';
import type { ClientLink } from './contract.ts';
import type { NameMatcher } from './name-filter.ts';

/** What each list method returns, and the key that names an item. */
const LISTS: Record<string, { key: string; field: string }> = {
  'tools/list': { key: 'tools', field: 'name' },
  'prompts/list': { key: 'prompts', field: 'name' },
  'resources/list': { key: 'resources', field: 'uri' },
};
/** Requests that name a filtered thing, and where its name is. */
const NAMED: Record<string, { field: string; what: string }> = {
  'tools/call': { field: 'name', what: 'tool' },
  'prompts/get': { field: 'name', what: 'prompt' },
  'resources/read': { field: 'uri', what: 'resource' },
  'resources/subscribe': { field: 'uri', what: 'resource' },
};

export class ToolGate {
  #matcher: NameMatcher;
  #links = new Map<string, { link: ClientLink; lists: Map<JsonRpcId, string> }>();

  constructor(matcher: NameMatcher) {
    this.#matcher = matcher;
  }

  /** The link the backend should deliver to for this session: list answers filtered. */
  attach(sessionId: string, link: ClientLink): ClientLink {
    const entry = { link, lists: new Map<JsonRpcId, string>() };
    this.#links.set(sessionId, entry);
    return {
      isReconnectable: link.isReconnectable,
      end: (reason) => link.end(reason),
      deliver: (msg, relatedId) => {
        const method = isResponse(msg) && msg.id !== null ? entry.lists.get(msg.id) : undefined;
        if (method !== undefined) {
          entry.lists.delete((msg as { id: JsonRpcId }).id);
          if (isResponse(msg) && isObject(msg.result)) this.#filter(method, msg.result);
        }
        link.deliver(msg, relatedId);
      },
    };
  }

  detach(sessionId: string): void {
    this.#links.delete(sessionId);
  }

  /** False when the request was refused here (its answer already delivered); true to pass it on. */
  admit(sessionId: string, msg: JsonRpcMessage): boolean {
    if (!isRequest(msg)) return true;
    const entry = this.#links.get(sessionId);
    if (LISTS[msg.method] !== undefined) {
      entry?.lists.set(msg.id, msg.method);
      return true;
    }
    const named = NAMED[msg.method];
    const value = named !== undefined && isObject(msg.params) ? msg.params[named.field] : undefined;
    if (typeof value !== 'string' || this.#matcher.allows(value)) return true;
    entry?.link.deliver(errorResponse(msg.id, RpcCode.invalidParams, `Unknown ${named!.what}: ${value.slice(0, 100)} (not allowed on this server)`), msg.id);
    return false;
  }

  #filter(method: string, result: JsonObject): void {
    const { key, field } = LISTS[method]!;
    const items = result[key];
    if (Array.isArray(items)) result[key] = items.filter((item) => !isObject(item) || typeof item[field] !== 'string' || this.#matcher.allows(item[field]));
  }
}
