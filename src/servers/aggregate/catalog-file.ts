/**
 * A lazy member's catalog on disk (`<state-dir>/catalogs/<name>.json`), so a restarted proxy lists it
 * without starting it. Keyed by the member's command: a catalog of another command is not this server's.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerUnit } from '../server-unit.ts';
import type { CatalogSnapshot } from './list-reading.ts';

export class CatalogFile {
  #unit: ServerUnit;
  #dir: string | undefined;

  /** `stateDir` undefined: nothing is kept. */
  constructor(unit: ServerUnit, stateDir: string | undefined) {
    this.#unit = unit;
    this.#dir = stateDir === undefined ? undefined : join(stateDir, 'catalogs');
  }

  load(): CatalogSnapshot | undefined {
    if (this.#dir === undefined) return undefined;
    try {
      const value = JSON.parse(readFileSync(this.#path(this.#dir), 'utf8')) as { command?: unknown; snapshot?: CatalogSnapshot };
      return value.command === this.#commandKey() ? value.snapshot : undefined;
    } catch {
      return undefined;
    }
  }

  /** Written whole (a temporary file renamed over the old one); a failure is logged, never thrown. */
  save(snapshot: CatalogSnapshot): void {
    if (this.#dir === undefined || this.#unit.spec.lifecycle !== 'lazy') return;
    const path = this.#path(this.#dir);
    try {
      mkdirSync(this.#dir, { recursive: true });
      writeFileSync(`${path}.tmp`, JSON.stringify({ command: this.#commandKey(), snapshot }));
      renameSync(`${path}.tmp`, path);
    } catch (err) {
      this.#unit.log.warn('cannot save the catalog', { path, error: (err as NodeJS.ErrnoException).code ?? String(err) });
    }
  }

  #path(dir: string): string {
    return join(dir, `${this.#unit.spec.name}.json`);
  }

  #commandKey(): string {
    return JSON.stringify([this.#unit.spec.command, ...this.#unit.spec.args]);
  }
}
