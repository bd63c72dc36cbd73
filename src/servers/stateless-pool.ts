/**
 * Which shared backend serves a stateless (2026-07-28) caller. Shared mode: the one shared child.
 * Independent mode: stateless callers have no session to key a child on, so each distinct allowed
 * environment (one user's credentials) gets its own child, kept while in use and stopped after idling.
 * With `--child-per principal` the key is the principal too, and its sessions use the same children.
 */
import { checkChildBudget, type BackendDeps, type ChildUsage } from './backend-deps.ts';
import { SharedBackend } from './shared-backend.ts';
import type { StatelessTarget } from './contract.ts';
import { ProxyError, RpcCode } from '../protocol/errors.ts';

interface PoolEntry {
  backend: SharedBackend;
  /** With `childPer: principal`: whose child this is. */
  principalId: string | undefined;
  lastUsedMs: number;
  /** The environment's values, masked in logs until the child is gone. */
  secrets: string[];
}

const SWEEP_MS = 5000;

export class StatelessPool {
  #deps: BackendDeps;
  #shared: StatelessTarget | undefined;
  #entries = new Map<string, PoolEntry>();
  #timer: NodeJS.Timeout | undefined;

  /** `shared`: the shared-mode backend, or undefined in independent mode. */
  constructor(deps: BackendDeps, shared: StatelessTarget | undefined) {
    this.#deps = deps;
    this.#shared = shared;
    if (shared === undefined) {
      this.#timer = setInterval(() => this.#sweep(Date.now()), SWEEP_MS);
      this.#timer.unref();
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The backend for a caller with this (already filtered) environment and principal; 503 when the pool is full. */
  get(env: Record<string, string>, principalId = ''): StatelessTarget {
    return this.#shared ?? this.child(env, principalId);
  }

  /** Independent mode: the pooled child for this environment (and principal, with --child-per principal). */
  child(env: Record<string, string>, principalId = ''): SharedBackend {
    const entries = Object.entries(env).sort(([a], [b]) => (a < b ? -1 : 1));
    const owner = this.#deps.spec.childPer === 'principal' ? principalId : undefined;
    const key = JSON.stringify(owner === undefined ? entries : [owner, entries]);
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      const max = this.#deps.spec.maxSessions;
      if (max > 0 && this.#entries.size >= max) {
        throw new ProxyError(503, RpcCode.serverError, `too many stateless children (limit ${max}); try again later`, { headers: { 'retry-after': '5' } });
      }
      checkChildBudget(this.#deps);
      const log = this.#deps.log.child({ pool: this.#entries.size + 1 });
      for (const value of Object.values(env)) log.addSecret(value);
      entry = { backend: new SharedBackend({ ...this.#deps, log }, env), principalId: owner, lastUsedMs: Date.now(), secrets: Object.values(env) };
      this.#entries.set(key, entry);
    }
    entry.lastUsedMs = Date.now();
    return entry.backend;
  }

  get pendingCount(): number {
    let count = 0;
    for (const { backend } of this.#entries.values()) count += backend.pendingCount;
    return count;
  }

  get pids(): number[] {
    return this.children.map(({ pid }) => pid);
  }

  /** Each running pool child, with its principal when children are kept per principal. */
  get children(): Array<{ pid: number; principalId: string | undefined }> {
    return [...this.#entries.values()].flatMap(({ backend, principalId }) => backend.pids.map((pid) => ({ pid, principalId })));
  }

  /** The pool's own children's figures (the shared backend reports its own). */
  get usage(): ChildUsage[] {
    return [...this.#entries.values()].flatMap(({ backend }) => backend.usage);
  }

  /** Fails the calls in flight on the pool's own children (the shared backend is the caller's). */
  failPending(reason: string): void {
    for (const { backend } of this.#entries.values()) backend.failPending(reason);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.all(entries.map((entry) => this.#stopEntry(entry)));
  }

  async #stopEntry(entry: PoolEntry): Promise<void> {
    await entry.backend.stop();
    for (const value of entry.secrets) this.#deps.log.removeSecret(value);
  }

  #sweep(nowMs: number): void {
    const idleMs = this.#deps.config.sessionIdleTimeoutMs;
    if (idleMs <= 0) return;
    for (const [key, entry] of this.#entries) {
      if (entry.backend.isIdle && nowMs - entry.lastUsedMs >= idleMs) {
        this.#entries.delete(key);
        void this.#stopEntry(entry);
      }
    }
  }
}
