/**
 * Between a transport (or the aggregate's catalog) and a server's backend, on every route: list answers
 * are held to the shape clients parse (`list-entries.ts`: a broken entry is repaired or dropped, logged
 * once per list and reason) and, when the server has a `tools` filter, what it hides is left out of
 * every list answer and refused when called by name, exactly as in the aggregate. A tool, prompt or
 * template whose name or description carries hidden characters (`pins/hidden.ts`) is flagged: one warn
 * line per entry. Requests are checked on the way in, list results on the way out.
 */
import type { Logger } from '../observe/log.ts';
import { hiddenIn, visible } from '../pins/hidden.ts';
import { RpcCode } from '../protocol/errors.ts';
import { errorResponse, isObject, isRequest, isResponse, type JsonObject, type JsonRpcId, type JsonRpcMessage } from '../protocol/message.ts';
import type { ClientLink } from './contract.ts';
import { checkEntries, type EntryKind } from './list-entries.ts';
import type { NameMatcher } from './name-filter.ts';

/** What each list method returns, and the key that names an item (for the filter; templates are not filtered). */
const LISTS: Record<string, { key: EntryKind; field: string | undefined }> = {
  'tools/list': { key: 'tools', field: 'name' },
  'prompts/list': { key: 'prompts', field: 'name' },
  'resources/list': { key: 'resources', field: 'uri' },
  'resources/templates/list': { key: 'resourceTemplates', field: undefined },
};
/** Requests that name a filtered thing, and where its name is. */
const NAMED: Record<string, { field: string; what: string }> = {
  'tools/call': { field: 'name', what: 'tool' },
  'prompts/get': { field: 'name', what: 'prompt' },
  'resources/read': { field: 'uri', what: 'resource' },
  'resources/subscribe': { field: 'uri', what: 'resource' },
};

const HIDDEN_FLAGGED_MAX = 1_000;

export class ToolGate {
  #matcher: NameMatcher | undefined;
  #log: Logger;
  #links = new Map<string, { link: ClientLink; lists: Map<JsonRpcId, string> }>();
  /** `list|reason|action` already logged: a fixed set of phrases per list, so bounded. */
  #logged = new Set<string>();
  /** `list|name` of entries flagged for hidden characters, up to HIDDEN_FLAGGED_MAX (a server could list without end). */
  #flagged = new Set<string>();

  /** `matcher`: the server's `tools` filter, or undefined when it has none (lists are still checked). */
  constructor(matcher: NameMatcher | undefined, log: Logger) {
    this.#matcher = matcher;
    this.#log = log;
  }

  /** The link the backend should deliver to for this session: list answers checked and filtered. */
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
          if (isResponse(msg) && isObject(msg.result)) this.#check(method, msg.result);
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
    if (typeof value !== 'string' || this.#matcher === undefined || this.#matcher.allows(value)) return true;
    entry?.link.deliver(errorResponse(msg.id, RpcCode.invalidParams, `Unknown ${named!.what}: ${value.slice(0, 100)} (not allowed on this server)`), msg.id);
    return false;
  }

  /** Repairs or drops the entries clients would refuse, then applies the filter; in place. */
  #check(method: string, result: JsonObject): void {
    const { key, field } = LISTS[method]!;
    const items = result[key];
    if (!Array.isArray(items)) return;
    const checked = checkEntries(key, items);
    for (const { reason, action, name } of checked.problems) {
      const seen = `${key}|${reason}|${action}`;
      if (this.#logged.has(seen)) continue;
      this.#logged.add(seen);
      this.#log.warn(`list entry ${action}: it breaks the MCP schema clients parse`, { list: key, reason, name: name ?? null, note: 'logged once per list and reason' });
    }
    this.#flagHidden(key, checked.items);
    const matcher = this.#matcher;
    result[key] = matcher === undefined || field === undefined ? checked.items : checked.items.filter((item) => typeof item[field] !== 'string' || matcher.allows(item[field]));
  }

  /** One warn line per entry with hidden characters; the entry stays listed (what to do is pinning's choice). */
  #flagHidden(key: EntryKind, items: readonly JsonObject[]): void {
    if (key === 'resources') return;
    for (const item of items) {
      const hidden = hiddenIn(key, item);
      const name = String(key === 'resourceTemplates' ? item.uriTemplate : item.name);
      const seen = `${key}|${name}`;
      if (hidden.length === 0 || this.#flagged.has(seen) || this.#flagged.size >= HIDDEN_FLAGGED_MAX) continue;
      this.#flagged.add(seen);
      const chars = hidden.map(({ codePoint, class: kind }) => `${codePoint} (${kind})`).join(', ');
      this.#log.warn('list entry carries hidden characters: a model reads them, a reader does not see them', { list: key, name: visible(name).slice(0, 100), chars, note: 'logged once per entry' });
    }
  }
}
