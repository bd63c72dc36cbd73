/**
 * A child's stderr: relayed to the log a bounded number of lines per second (a flood is counted, not
 * queued), and its last lines kept in a small ring so a child that fails to start can say why in
 * /status, the console and its callers' errors.
 */
import { LineFramer } from './framer.ts';
import { LogBudget, type Logger } from '../observe/log.ts';

const STDERR_LINE_BYTES = 16 * 1024;
/** The ring: this many last lines, each cut to this many characters. */
const TAIL_LINES = 20;
const TAIL_LINE_CHARS = 512;
/** What one child's stderr may put in the log per second; the rest is counted in one line. */
const RELAYED_PER_SECOND = 50;
/** Longest headline of a failure (what an error message quotes from the tail). */
const HEADLINE_CHARS = 300;

/** How npm (offline or not), uv and curl-like tools say a package or host could not be reached. */
const NETWORK_ERROR = /\b(ENOTCACHED|ENOTFOUND|EAI_AGAIN|ENETUNREACH|ECONNREFUSED)\b|network was disabled|Network is unreachable|dns error|Could not resolve host/i;
/** `Error: Cannot find module 'ajv'`, `ModuleNotFoundError: No module named 'x'`, `TypeError: …`. */
const ERROR_LINE = /^\s*(?:[\w.]*(?:Error|Exception)|error|fatal|panic)\b[\s:[]/i;

export class ChildStderr {
  #framer: LineFramer;
  #relay: LogBudget;
  #log: Logger;
  #tail: string[] = [];
  #sawNetworkError = false;
  #watchNetwork: boolean;
  /** Names the host path a line says is missing when the sandbox hid it; cleared once it has named one. */
  #hiddenPath: ((line: string) => string | undefined) | undefined;

  /**
   * `watchNetwork`: the child's network is off, so a network error line means a cold package cache.
   * `hiddenPath`: under a sandbox, which path of a line the view hid (one warn line per child says so).
   */
  constructor(log: Logger, watchNetwork: boolean, hiddenPath?: (line: string) => string | undefined) {
    this.#log = log;
    this.#watchNetwork = watchNetwork;
    this.#hiddenPath = hiddenPath;
    this.#relay = new LogBudget(log, 'info', 'child stderr', { perWindow: RELAYED_PER_SECOND, windowMs: 1000 });
    this.#framer = new LineFramer(STDERR_LINE_BYTES, {
      line: (text) => this.#line(text),
      oversized: (bytes) => this.#relay.hit({ line: `(a line of ${bytes} bytes, dropped)` }),
    });
  }

  push(chunk: Buffer): void {
    this.#framer.push(chunk);
  }

  /** Stream ended: the last line counts, and what was not relayed is said. */
  end(): void {
    this.#framer.end();
    this.#relay.flush();
  }

  get sawNetworkError(): boolean {
    return this.#sawNetworkError;
  }

  /** The last lines, secrets masked (registered ones, at the time of asking). */
  tail(): string[] {
    return this.#tail.map((line) => this.#log.redact(line));
  }

  #line(text: string): void {
    if (this.#watchNetwork && NETWORK_ERROR.test(text)) this.#sawNetworkError = true;
    if (text.trim() !== '') {
      this.#tail.push(text.length > TAIL_LINE_CHARS ? `${text.slice(0, TAIL_LINE_CHARS)}…` : text);
      if (this.#tail.length > TAIL_LINES) this.#tail.shift();
    }
    this.#relay.hit({ line: text });
    const hidden = this.#hiddenPath?.(text);
    if (hidden !== undefined) {
      this.#hiddenPath = undefined;
      this.#log.warn(`sandbox hid ${hidden}`, { fix: 'add it to the server\'s sandbox.readOnly or --sandbox-read' });
    }
  }
}

/**
 * The one line of a failed child's stderr that says most: the last that reads like an error, else the
 * last line; undefined when it wrote nothing.
 */
export function headlineOf(tail: readonly string[]): string | undefined {
  const line = tail.findLast((text) => ERROR_LINE.test(text)) ?? tail.at(-1);
  if (line === undefined) return undefined;
  const text = line.trim();
  return text.length > HEADLINE_CHARS ? `${text.slice(0, HEADLINE_CHARS)}…` : text;
}
