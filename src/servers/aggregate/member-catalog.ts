/**
 * What the aggregate knows of one member: its InitializeResult and every page of its tools, prompts,
 * resources and resource templates, read through an internal session on the member (the same interface a
 * transport uses) and re-read on its `list_changed` (one read in flight and one queued per member, however
 * many notifications come). The last known lists stay while the member restarts; a lazy member's catalog
 * is kept on disk so a restarted proxy lists it without starting it.
 */
import { isObject, isRequest, isResponse, type JsonObject, type JsonRpcMessage, type JsonRpcResponse } from '../../protocol/message.ts';
import { PROXY_INITIALIZE } from '../proxy-initialize.ts';
import type { ClientLink } from '../contract.ts';
import type { ServerUnit } from '../server-unit.ts';
import { CatalogFile } from './catalog-file.ts';
import { ALL_KINDS, CHANGED, emptyLists, readLists, type CatalogSnapshot, type ListKind } from './list-reading.ts';
import { settlesWithin } from './settles-within.ts';

/** The principal the catalog's own session is opened as (shown in /status `children[]`). */
const CATALOG_PRINCIPAL = '~catalog';
/** A failed handshake or list read is tried again, from this wait doubling to the cap: a member that
 * refused once at start (still starting, a timeout) must not stay out of the aggregate until it restarts. */
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 30_000;

/** What the catalog tells its owner: the lists or the member's availability changed; `announced` are the
 * lists the member itself said changed (re-read now), which clients hear of whether or not they differ. */
export type CatalogChanged = (announced: readonly ListKind[]) => void;

export class MemberCatalog implements ClientLink {
  readonly isReconnectable = true;
  readonly unit: ServerUnit;
  #sessionId: string;
  #initialize: JsonObject | undefined;
  #snapshot: CatalogSnapshot | undefined;
  #state: 'closed' | 'opening' | 'open' = 'closed';
  #nextId = 1;
  #waiting = new Map<number, { method: string; wake: (res: JsonRpcResponse) => void }>();
  #changed: CatalogChanged;
  #file: CatalogFile;
  #unsubscribe: () => void;
  #firstRun: Promise<void> | undefined;
  #settled: (() => void) | undefined;
  /** When something first waited for this member's first lists (ms since the epoch): waits are bounded from it. */
  #waitedSince: number | undefined;
  #isLate = false;
  #retryMs = FIRST_RETRY_MS;
  #retry: NodeJS.Timeout | undefined;
  /** Lists whose last read failed: each retry reads all of them, and the catalog is healthy only without any. */
  #stale = new Set<ListKind>();
  /** Lists to read once the read in flight is done: a flood of `list_changed` costs two reads, not one each. */
  #queued = new Set<ListKind>();
  /** Of those, the ones the member said changed. */
  #announced = new Set<ListKind>();
  #isReading = false;
  #isClosed = false;
  lastError: string | undefined;

  constructor(unit: ServerUnit, stateDir: string | undefined, changed: CatalogChanged) {
    this.unit = unit;
    this.#sessionId = `~catalog-${unit.spec.name}`;
    this.#changed = changed;
    this.#file = new CatalogFile(unit, stateDir);
    if (unit.spec.lifecycle === 'lazy') this.#snapshot = this.#file.load();
    this.#initialize = this.#snapshot?.initialize;
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

  /**
   * `ensure()`, bounded: settles at the latest `budgetMs` after anything first waited for this member, so
   * a member that never answers holds the lists once, not each list. Past it the member is late: named
   * once in the log and in /status until its lists come (and the aggregate then tells its clients).
   */
  async waitFirstRun(budgetMs: number): Promise<void> {
    const run = this.ensure();
    if (this.#firstRun === undefined) return run;
    this.#waitedSince ??= Date.now();
    const isSettled = await settlesWithin(run, this.#waitedSince + budgetMs - Date.now());
    if (!isSettled && this.#snapshot === undefined) this.#late(Date.now() - this.#waitedSince);
  }

  close(): void {
    this.#isClosed = true;
    clearTimeout(this.#retry);
    this.#unsubscribe();
    if (this.#state !== 'closed') this.unit.close(this.#sessionId);
    this.#state = 'closed';
    for (const { wake } of this.#waiting.values()) wake({ jsonrpc: '2.0', id: 0, error: { code: -32000, message: 'catalog closed' } });
    this.#waiting.clear();
  }

  deliver(msg: JsonRpcMessage): void {
    if (isResponse(msg)) {
      const waiting = typeof msg.id === 'number' ? this.#waiting.get(msg.id) : undefined;
      this.#waiting.delete(msg.id as number);
      waiting?.wake(msg);
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
    if (kinds !== undefined && this.#state === 'open') this.#refresh(kinds, true);
  }

  end(): void {
    this.#state = 'closed';
    this.#changed([]);
  }

  /** Connects when the member runs and is ready; a sleeping lazy member is never woken for its catalog once one is known. */
  #follow(): void {
    const now = this.unit.state;
    if (now === 'failed' || now === 'restarting' || now === 'disabled') this.#settle();
    const state = this.unit.state;
    if (state === 'ready' && this.#state === 'closed') void this.#connect();
    this.#changed([]);
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
      this.#initialize = init.result;
      this.#state = 'open';
      this.#refresh(ALL_KINDS, false);
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
      this.#changed([]);
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

  /** Lists waited past their bound for this member's first lists: say so once, with what it has not answered. */
  #late(waitedMs: number): void {
    if (this.#isLate) return;
    this.#isLate = true;
    const pending = this.#waiting.values().next().value?.method;
    const reason = `late: ${pending === undefined ? `still ${this.unit.state}` : `${pending} not answered`} after ${waitedMs} ms; lists answered without it`;
    this.unit.log.warn('catalog late, lists answered without this server until it lists', { reason });
    this.lastError = reason;
  }

  /** Reads `kinds` now, or after the read in flight; `isAnnounced`: the member said they changed. */
  #refresh(kinds: readonly ListKind[], isAnnounced: boolean): void {
    for (const kind of kinds) {
      this.#queued.add(kind);
      if (isAnnounced) this.#announced.add(kind);
    }
    if (!this.#isReading) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#isReading = true;
    try {
      while (this.#queued.size > 0 && this.#state === 'open' && !this.#isClosed) {
        const kinds = [...this.#queued];
        this.#queued.clear();
        const announced = kinds.filter((kind) => this.#announced.delete(kind));
        await this.#read(kinds, announced);
      }
    } finally {
      this.#isReading = false;
    }
  }

  /**
   * Re-reads `kinds` and swaps them in at once: /status and the aggregate never see a member that is
   * up with half-read (or, on its first run, empty) lists.
   */
  async #read(kinds: ListKind[], announced: ListKind[]): Promise<void> {
    const initialize = this.#initialize;
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
    this.#isLate = false;
    this.#file.save(snapshot);
    this.#settle();
    this.#changed(announced);
    if (this.#stale.size === 0) return this.#succeeded();
    if (reasons.length === 0) return; // this read went well; the stale lists' retry is already set
    this.#failed(reasons.join('; '), () => {
      if (this.#state === 'open') this.#refresh([...this.#stale], false);
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
    return new Promise((wake) => {
      this.#waiting.set(id, { method, wake });
      this.unit.receive(this.#sessionId, { jsonrpc: '2.0', id, method, params });
    });
  }
}
