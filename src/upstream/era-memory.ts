/**
 * What one configured stdio server's children have shown about their era, shared by every child the
 * unit starts (the shared child and its restarts, replicas, per-session and pooled children): the
 * verdict once one child settled it (later children skip detection), which handshake to try first on
 * the next child, and a start gate so a second child never runs the command while the first is still
 * in its first start (two cold `npx -y` runs fill one npm cache at once and leave it half-written).
 * With a state dir the verdict is kept in `<stateDir>/eras/<hash>.json`, keyed by command, args and cwd.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../observe/log.ts';
import type { UpstreamEra } from './era-probe.ts';
/** The operator's `upstreamProtocol`. */
export type EraPin = 'auto' | 'legacy' | 'modern';
/** The request a child is asked first: the legacy handshake or `server/discover`. */
export type FirstAsk = 'initialize' | 'discover';

export interface EraMemoryOptions {
  pin: EraPin;
  /** Where the verdict is kept across proxy runs; undefined keeps it for this process only. */
  file: string | undefined;
  /** Longest a later child waits for the first one's first answer before it starts anyway (ms). */
  gateMs: number;
  log: Logger;
  /** A pinned `modern` server turned out not to be one: it cannot be served as configured. */
  onFatal(reason: string): void;
}

/** The file for a server's verdict: a hash of what makes it the same program (command, args, cwd). */
export function eraFile(stateDir: string, command: string, args: readonly string[], cwd: string | undefined): string {
  const hash = createHash('sha256').update(JSON.stringify([command, args, cwd ?? null])).digest('hex').slice(0, 32);
  return join(stateDir, 'eras', `${hash}.json`);
}

export class EraMemory {
  readonly pin: EraPin;
  #opts: EraMemoryOptions;
  /** In this process: the full verdict (a modern one with the DiscoverResult a new child's adapter starts from). */
  #known: UpstreamEra | undefined;
  /** From the file: only the era, so a modern child is still asked `server/discover` once. */
  #remembered: 'legacy' | 'modern' | undefined;
  #first: FirstAsk;
  #gate: 'unused' | 'first-starting' | 'open' = 'unused';
  #gateWaiters = new Set<() => void>();

  constructor(opts: EraMemoryOptions) {
    this.pin = opts.pin;
    this.#opts = opts;
    if (opts.pin === 'legacy') this.#known = { era: 'legacy' };
    if (opts.pin === 'auto') this.#remembered = readVerdict(opts.file);
    // A modern server is asked what it speaks; everything else gets the handshake it was built for first.
    this.#first = opts.pin === 'modern' || this.#remembered === 'modern' ? 'discover' : 'initialize';
  }

  /** The verdict a new child may start from without detection, if one is known. */
  get known(): UpstreamEra | undefined {
    return this.#known;
  }

  /** Which request to try first on a child whose era is not known. */
  get first(): FirstAsk {
    return this.#first;
  }

  /** Resolves when a new child may be started: at once for the unit's first, else once the first answered or ended. */
  mayStart(): Promise<void> {
    if (this.#gate === 'unused') {
      this.#gate = 'first-starting';
      return Promise.resolve();
    }
    if (this.#gate === 'open') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(), this.#opts.gateMs);
      timer.unref();
      const done = (): void => {
        clearTimeout(timer);
        this.#gateWaiters.delete(done);
        resolve();
      };
      this.#gateWaiters.add(done);
    });
  }

  /** A child answered for the first time, or ended: its first start is over, later children may start. */
  firstStartOver(): void {
    this.#gate = 'open';
    for (const wake of [...this.#gateWaiters]) wake();
  }

  /**
   * A child's era is settled; `via` says how: its `initialize` answered, `server/discover` answered after
   * `initialize` was refused, or `discover-first` (asked first). Logged once per change, kept (auto only).
   */
  learned(era: UpstreamEra, via: 'initialize' | 'discover' | 'discover-first'): void {
    const changed = this.#known?.era !== era.era;
    this.#known = era;
    this.#first = era.era === 'modern' ? 'discover' : 'initialize';
    if (!changed) return;
    this.#opts.log.info('upstream protocol', era.era === 'modern' ? { era: 'modern', version: era.version, via } : { era: 'legacy', via });
    // A pinned verdict says what the operator chose, not what the server is: never written down.
    if (this.pin === 'auto' && this.#remembered !== era.era) {
      this.#remembered = era.era;
      writeVerdict(this.#opts.file, era.era, this.#opts.log);
    }
  }

  /** A child exited on the first request it was sent: the next child is asked the other one first. */
  diedOn(ask: FirstAsk): void {
    if (this.pin === 'modern') return this.#opts.onFatal('upstream protocol modern: the MCP server exited before answering server/discover');
    this.#first = ask === 'initialize' ? 'discover' : 'initialize';
    this.#opts.log.warn('child exited on its first request; the next start tries the other era first', { request: ask === 'initialize' ? 'initialize' : 'server/discover' });
  }

  /** A child pinned `modern` answered `server/discover` with no usable DiscoverResult. */
  notModern(reason: string): void {
    this.#opts.onFatal(`upstream protocol modern: the MCP server did not answer server/discover as a 2026-07-28 server (${reason})`);
  }
}

function readVerdict(file: string | undefined): 'legacy' | 'modern' | undefined {
  if (file === undefined) return undefined;
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as { era?: unknown };
    return value.era === 'legacy' || value.era === 'modern' ? value.era : undefined;
  } catch {
    return undefined; // absent or unreadable: detected anew, and rewritten
  }
}

/** Written whole (temp file, then rename), so a reader never sees half a verdict. */
function writeVerdict(file: string | undefined, era: 'legacy' | 'modern', log: Logger): void {
  if (file === undefined) return;
  try {
    mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ era }) + '\n', { mode: 0o600 });
    renameSync(tmp, file);
  } catch (err) {
    log.warn('cannot keep the upstream protocol verdict; it is detected again next run', { error: (err as Error).message });
  }
}
