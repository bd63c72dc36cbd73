/**
 * What the aggregate knows of one member: its InitializeResult and every page of its tools, prompts,
 * resources and resource templates, read through an internal session on the member (the same interface a
 * transport uses) and re-read on its `list_changed`. The last known lists stay while the member restarts;
 * a lazy member's catalog is kept on disk so a restarted proxy lists it without starting it.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RpcCode } from '../../protocol/errors.ts';
import { isObject, isRequest, isResponse, type JsonObject, type JsonRpcMessage, type JsonRpcResponse } from '../../protocol/message.ts';
import { PROXY_INITIALIZE } from '../proxy-initialize.ts';
import type { ClientLink } from '../contract.ts';
import type { ServerUnit } from '../server-unit.ts';

/** The principal the catalog's own session is opened as (shown in /status `children[]`). */
const CATALOG_PRINCIPAL = '~catalog';

export type ListKind = 'tools' | 'prompts' | 'resources' | 'resourceTemplates';

const LISTS: Array<{ kind: ListKind; method: string; capability: string }> = [
  { kind: 'tools', method: 'tools/list', capability: 'tools' },
  { kind: 'prompts', method: 'prompts/list', capability: 'prompts' },
  { kind: 'resources', method: 'resources/list', capability: 'resources' },
  { kind: 'resourceTemplates', method: 'resources/templates/list', capability: 'resources' },
];
const ALL_KINDS = LISTS.map((list) => list.kind);
const CHANGED: Record<string, ListKind[]> = {
  'notifications/tools/list_changed': ['tools'],
  'notifications/prompts/list_changed': ['prompts'],
  'notifications/resources/list_changed': ['resources', 'resourceTemplates'],
};
/** Pages read per list at most: a member that pages forever must not hold the catalog. */
const MAX_PAGES = 100;
/** A failed handshake or list read is tried again, from this wait doubling to the cap: a member that
 * refused once at start (still starting, a timeout) must not stay out of the aggregate until it restarts. */
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 30_000;

export interface CatalogSnapshot {
  initialize: JsonObject;
  lists: Record<ListKind, JsonObject[]>;
}

type Requester = (method: string, params: JsonObject) => Promise<JsonRpcResponse>;

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

export class MemberCatalog implements ClientLink {
  readonly isReconnectable = true;
  readonly unit: ServerUnit;
  #sessionId: string;
  #snapshot: CatalogSnapshot | undefined;
  #state: 'closed' | 'opening' | 'open' = 'closed';
  #nextId = 1;
  #waiting = new Map<number, (res: JsonRpcResponse) => void>();
  #changed: () => void;
  #stateDir: string | undefined;
  #unsubscribe: () => void;
  #firstRun: Promise<void> | undefined;
  #settled: (() => void) | undefined;
  #retryMs = FIRST_RETRY_MS;
  #retry: NodeJS.Timeout | undefined;
  /** Lists whose last read failed: each retry reads all of them, and the catalog is healthy only without any. */
  #stale = new Set<ListKind>();
  #isClosed = false;
  lastError: string | undefined;

  /** `changed`: the lists or the member's availability changed (the aggregate coalesces these). */
  constructor(unit: ServerUnit, stateDir: string | undefined, changed: () => void) {
    this.unit = unit;
    this.#sessionId = `~catalog-${unit.spec.name}`;
    this.#changed = changed;
    this.#stateDir = stateDir;
    if (unit.spec.lifecycle === 'lazy') this.#snapshot = this.#load();
    this.#unsubscribe = unit.onStateChange(() => this.#follow());
    this.#follow();
  }

  get snapshot(): CatalogSnapshot | undefined {
    return this.#snapshot;
  }

  /**
   * Settles once the member's lists are known, or once they cannot be soon (it failed, or is down).
   * A lazy member that never ran is started for it (single-flight); after that its catalog is
   * remembered and lists never start it again. An eager member still starting is waited for.
   */
  ensure(): Promise<void> {
    if (this.#snapshot !== undefined || this.unit.spec.isDisabled || this.unit.fatalReason !== undefined) return Promise.resolve();
    const state = this.unit.state;
    if (state === 'failed' || state === 'restarting') return Promise.resolve();
    // A handshake that failed is retried in its time; lists do not wait on the backoff.
    if (this.#state === 'closed' && this.#retry !== undefined) return Promise.resolve();
    if (state === 'sleeping') void this.#connect();
    this.#firstRun ??= new Promise<void>((resolve) => { this.#settled = resolve; });
    return this.#firstRun;
  }

  close(): void {
    this.#isClosed = true;
    clearTimeout(this.#retry);
    this.#unsubscribe();
    if (this.#state !== 'closed') this.unit.close(this.#sessionId);
    this.#state = 'closed';
    for (const wake of this.#waiting.values()) wake({ jsonrpc: '2.0', id: 0, error: { code: -32000, message: 'catalog closed' } });
    this.#waiting.clear();
  }

  deliver(msg: JsonRpcMessage): void {
    if (isResponse(msg)) {
      const wake = typeof msg.id === 'number' ? this.#waiting.get(msg.id) : undefined;
      this.#waiting.delete(msg.id as number);
      wake?.(msg);
      return;
    }
    if (isRequest(msg)) {
      // The catalog session has no user to ask: roots are empty, anything else is refused.
      const answer = msg.method === 'roots/list'
        ? { jsonrpc: '2.0' as const, id: msg.id, result: { roots: [] } }
        : { jsonrpc: '2.0' as const, id: msg.id, error: { code: -32601, message: 'not available to the catalog session' } };
      this.unit.receive(this.#sessionId, answer);
      return;
    }
    const kinds = CHANGED[msg.method];
    if (kinds !== undefined && this.#state === 'open') void this.#read(kinds);
  }

  end(): void {
    this.#state = 'closed';
    this.#changed();
  }

  /** Connects when the member runs and is ready; a sleeping lazy member is never woken for its catalog once one is known. */
  #follow(): void {
    const now = this.unit.state;
    if (now === 'failed' || now === 'restarting' || now === 'disabled') this.#settle();
    const state = this.unit.state;
    if (state === 'ready' && this.#state === 'closed') void this.#connect();
    this.#changed();
  }

  async #connect(): Promise<void> {
    if (this.#state !== 'closed') return;
    this.#state = 'opening';
    try {
      // Under childPer principal the catalog is a principal of its own: it never shares a user's child.
      await this.unit.open(this.#sessionId, this, {}, undefined, CATALOG_PRINCIPAL);
      const init = await this.#request('initialize', structuredClone(PROXY_INITIALIZE));
      if (init.error !== undefined || !isObject(init.result)) throw new Error(init.error?.message ?? 'no initialize result');
      this.unit.receive(this.#sessionId, { jsonrpc: '2.0', method: 'notifications/initialized' });
      this.#state = 'open';
      await this.#read(ALL_KINDS, init.result);
      this.#settle();
    } catch (err) {
      this.#settle();
      if (this.#isClosed) return; // closed under it (a reload, shutdown): nothing to retry
      if (this.#state === 'opening') {
        this.#state = 'closed';
        this.unit.close(this.#sessionId);
      }
      this.#failed(`catalog handshake failed: ${(err as Error).message}`, () => {
        if (this.unit.state === 'ready') void this.#connect();
      });
      this.#changed();
    }
  }

  /** Says why (in /status; in the log when the reason is new) and tries `again` after the backoff. */
  #failed(reason: string, again: () => void): void {
    this.unit.log[reason === this.lastError ? 'debug' : 'warn']('catalog not read, retrying', { error: reason, inMs: this.#retryMs });
    this.lastError = reason;
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (!this.#isClosed) again();
    }, this.#retryMs).unref();
    this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS);
  }

  #succeeded(): void {
    this.lastError = undefined;
    this.#retryMs = FIRST_RETRY_MS;
  }

  /**
   * Re-reads `kinds` and swaps them in at once: /status and the aggregate never see a member that is
   * up with half-read (or, on its first run, empty) lists.
   */
  async #read(kinds: ListKind[], initialize = this.#snapshot?.initialize): Promise<void> {
    if (initialize === undefined) return;
    const reasons: string[] = [];
    // A failed read keeps what was known, and is read again (while the catalog's session is open).
    const fresh = await readLists((m, p) => this.#request(m, p), initialize, kinds, (kind, err) => {
      this.#stale.add(kind);
      reasons.push(err.message);
    });
    for (const kind of Object.keys(fresh) as ListKind[]) this.#stale.delete(kind);
    if (this.#isClosed) return;
    const snapshot = { initialize, lists: { ...(this.#snapshot?.lists ?? emptyLists()), ...fresh } };
    this.#snapshot = snapshot;
    this.#save(snapshot);
    this.#changed();
    if (this.#stale.size === 0) return this.#succeeded();
    if (reasons.length === 0) return; // this read went well; the stale lists' retry is already set
    this.#failed(reasons.join('; '), () => {
      if (this.#state === 'open') void this.#read([...this.#stale]);
    });
  }

  /** Lists that waited for this member's first catalog go on (with it, or without it when it failed). */
  #settle(): void {
    this.#settled?.();
    this.#settled = undefined;
    this.#firstRun = undefined;
  }

  #request(method: string, params: JsonObject): Promise<JsonRpcResponse> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.unit.receive(this.#sessionId, { jsonrpc: '2.0', id, method, params });
    });
  }

  #path(): string | undefined {
    return this.#stateDir === undefined ? undefined : join(this.#stateDir, 'catalogs', `${this.unit.spec.name}.json`);
  }

  #load(): CatalogSnapshot | undefined {
    const path = this.#path();
    if (path === undefined) return undefined;
    try {
      const value = JSON.parse(readFileSync(path, 'utf8')) as { command?: unknown; snapshot?: CatalogSnapshot };
      // A catalog of another command is not this server's.
      return value.command === this.#commandKey() ? value.snapshot : undefined;
    } catch {
      return undefined;
    }
  }

  #save(snapshot: CatalogSnapshot): void {
    const path = this.#path();
    if (path === undefined || this.unit.spec.lifecycle !== 'lazy') return;
    try {
      mkdirSync(join(this.#stateDir!, 'catalogs'), { recursive: true });
      writeFileSync(`${path}.tmp`, JSON.stringify({ command: this.#commandKey(), snapshot }));
      renameSync(`${path}.tmp`, path);
    } catch (err) {
      this.unit.log.warn('cannot save the catalog', { path, error: (err as NodeJS.ErrnoException).code ?? String(err) });
    }
  }

  #commandKey(): string {
    return JSON.stringify([this.unit.spec.command, ...this.unit.spec.args]);
  }
}
