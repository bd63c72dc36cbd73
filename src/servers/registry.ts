/**
 * The configured servers by name, in file order. A reload is applied as a diff: unchanged servers keep
 * running with their sessions untouched, removed ones drain and stop, changed ones restart, added ones start.
 */
import { isSameSpec, type ServerSpec } from '../config/server-spec.ts';
import type { Logger } from '../observe/log.ts';
import type { BackendDeps } from './backend-deps.ts';
import { ServerUnit } from './server-unit.ts';

export interface ReloadDiff {
  added: ServerUnit[];
  /** Units no longer configured, or replaced: the caller drains and stops them. */
  removed: ServerUnit[];
  changed: string[];
  unchanged: string[];
}

type UnitDeps = Omit<BackendDeps, 'spec' | 'era' | 'log'> & { log: Logger };

export class Registry {
  #units = new Map<string, ServerUnit>();
  #deps: UnitDeps;
  #listeners = new Set<(diff: ReloadDiff) => void>();

  constructor(specs: ServerSpec[], deps: UnitDeps) {
    this.#deps = { ...deps, childTotal: () => this.units.reduce((sum, unit) => sum + unit.childCount, 0) };
    for (const spec of specs) this.#units.set(spec.name, new ServerUnit(spec, this.#deps));
  }

  /** In configuration order (the order that decides who wins a name collision). */
  get units(): ServerUnit[] {
    return [...this.#units.values()];
  }

  get(name: string): ServerUnit | undefined {
    return this.#units.get(name);
  }

  /** Told after every applied reload (the route table and the aggregate follow it). */
  onReload(listener: (diff: ReloadDiff) => void): void {
    this.#listeners.add(listener);
  }

  /** Replaces the configuration; the new order is the file's. */
  apply(specs: ServerSpec[]): ReloadDiff {
    const diff: ReloadDiff = { added: [], removed: [], changed: [], unchanged: [] };
    const next = new Map<string, ServerUnit>();
    for (const spec of specs) {
      const current = this.#units.get(spec.name);
      if (current !== undefined && isSameSpec(current.spec, spec)) {
        next.set(spec.name, current);
        diff.unchanged.push(spec.name);
        continue;
      }
      if (current !== undefined) {
        diff.removed.push(current);
        diff.changed.push(spec.name);
      }
      const unit = new ServerUnit(spec, this.#deps);
      next.set(spec.name, unit);
      diff.added.push(unit);
    }
    for (const [name, unit] of this.#units) if (!next.has(name)) diff.removed.push(unit);
    this.#units = next;
    for (const listener of this.#listeners) listener(diff);
    return diff;
  }

  async stop(): Promise<void> {
    await Promise.all(this.units.map((unit) => unit.stop()));
  }
}
