/**
 * Reading a member's lists: every page of each, through any request function (the catalog's own
 * session, or an aggregate session's session on an independent member), and what a snapshot of them is.
 */
import { RpcCode } from '../../protocol/errors.ts';
import { isObject, type JsonObject, type JsonRpcResponse } from '../../protocol/message.ts';

export type ListKind = 'tools' | 'prompts' | 'resources' | 'resourceTemplates';

export interface CatalogSnapshot {
  initialize: JsonObject;
  lists: Record<ListKind, JsonObject[]>;
}

export type Requester = (method: string, params: JsonObject) => Promise<JsonRpcResponse>;

const LISTS: Array<{ kind: ListKind; method: string; capability: string }> = [
  { kind: 'tools', method: 'tools/list', capability: 'tools' },
  { kind: 'prompts', method: 'prompts/list', capability: 'prompts' },
  { kind: 'resources', method: 'resources/list', capability: 'resources' },
  { kind: 'resourceTemplates', method: 'resources/templates/list', capability: 'resources' },
];
export const ALL_KINDS: readonly ListKind[] = LISTS.map((list) => list.kind);
/** The lists each of a member's `list_changed` notifications says changed. */
export const CHANGED: Readonly<Record<string, readonly ListKind[]>> = {
  'notifications/tools/list_changed': ['tools'],
  'notifications/prompts/list_changed': ['prompts'],
  'notifications/resources/list_changed': ['resources', 'resourceTemplates'],
};
/** Pages read per list at most: a member that pages forever must not hold the catalog. */
const MAX_PAGES = 100;

export function emptyLists(): CatalogSnapshot['lists'] {
  return { tools: [], prompts: [], resources: [], resourceTemplates: [] };
}

/** Every page of one list through `request`; rejects, saying why, when a page fails. */
export async function readAllPages(request: Requester, method: string, kind: ListKind): Promise<JsonObject[]> {
  const items: JsonObject[] = [];
  let cursor: unknown;
  for (let page = 0; page < MAX_PAGES; page++) {
    const res = await request(method, cursor === undefined ? {} : { cursor });
    // A member that declares resources may still not serve templates: that list is empty, not failed.
    if (res.error?.code === RpcCode.methodNotFound) return items;
    if (res.error !== undefined || !isObject(res.result)) throw new Error(`${method}: ${res.error?.message ?? 'no result'}`);
    const pageItems = res.result[kind];
    if (Array.isArray(pageItems)) items.push(...pageItems.filter(isObject));
    cursor = res.result.nextCursor;
    if (typeof cursor !== 'string' || cursor === '') break;
  }
  return items;
}

/**
 * The lists of `kinds` through `request` (empty where the member's capabilities promise none); a list
 * whose read failed is left out of the answer and told to `onFailed`.
 */
export async function readLists(
  request: Requester, initialize: JsonObject, kinds: readonly ListKind[] = ALL_KINDS, onFailed: (kind: ListKind, err: Error) => void = () => {},
): Promise<Partial<CatalogSnapshot['lists']>> {
  const capabilities = isObject(initialize.capabilities) ? initialize.capabilities : {};
  const lists: Partial<CatalogSnapshot['lists']> = {};
  for (const { kind, method, capability } of LISTS) {
    if (!kinds.includes(kind)) continue;
    try {
      lists[kind] = capabilities[capability] === undefined ? [] : await readAllPages(request, method, kind);
    } catch (err) {
      onFailed(kind, err as Error);
    }
  }
  return lists;
}
