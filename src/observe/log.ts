/**
 * Levelled logger to stderr: one line per event, text (`key=value`) or JSON lines.
 * Registered secrets (the access key, per-session env values) are masked in every field.
 */
import { tracing } from '../trace/tracer.ts';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFormat = 'text' | 'json';
export type LogFields = Record<string, string | number | boolean | undefined | null>;

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };
const MASK = '[redacted]';
const MIN_SECRET_LENGTH = 4;

export interface LogSink {
  write(line: string): void;
}

export class Logger {
  #rank: number;
  #format: LogFormat;
  #sink: LogSink;
  /** Secret → how many holders registered it (two sessions may share one token). */
  #secrets: Map<string, number>;
  #base: LogFields;

  constructor(level: LogLevel, format: LogFormat, sink: LogSink, base: LogFields = {}, secrets = new Map<string, number>()) {
    this.#rank = RANK[level];
    this.#format = format;
    this.#sink = sink;
    this.#base = base;
    this.#secrets = secrets;
  }

  /** A logger that adds `fields` to every line and shares this one's secrets. */
  child(fields: LogFields): Logger {
    return new Logger(levelOfRank(this.#rank), this.#format, this.#sink, { ...this.#base, ...fields }, this.#secrets);
  }

  /** Masks `value` wherever it appears from now on; too-short values would mask ordinary text, so they are skipped. */
  addSecret(value: string): void {
    if (value.length >= MIN_SECRET_LENGTH) this.#secrets.set(value, (this.#secrets.get(value) ?? 0) + 1);
  }

  removeSecret(value: string): void {
    const count = this.#secrets.get(value);
    if (count === undefined) return;
    if (count > 1) this.#secrets.set(value, count - 1);
    else this.#secrets.delete(value);
  }

  isEnabled(level: LogLevel): boolean {
    return RANK[level] <= this.#rank;
  }

  error(msg: string, fields?: LogFields): void { this.#log('error', msg, fields); }
  warn(msg: string, fields?: LogFields): void { this.#log('warn', msg, fields); }
  info(msg: string, fields?: LogFields): void { this.#log('info', msg, fields); }
  debug(msg: string, fields?: LogFields): void { this.#log('debug', msg, fields); }

  #log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (RANK[level] > this.#rank) return;
    let all: LogFields = fields === undefined ? this.#base : { ...this.#base, ...fields };
    // A line logged within a traced request names its trace, so logs and traces join.
    const trace = tracing.active();
    if (trace !== undefined) all = { ...all, trace_id: trace.traceId, span_id: trace.spanId };
    const time = new Date().toISOString();
    let line: string;
    if (this.#format === 'json') {
      const record: Record<string, unknown> = { time, level, msg: this.#redact(msg) };
      for (const [key, value] of Object.entries(all)) {
        if (value !== undefined) record[key] = typeof value === 'string' ? this.#redact(value) : value;
      }
      line = JSON.stringify(record);
    } else {
      line = `${time} ${level.padEnd(5)} ${this.#redact(msg)}`;
      for (const [key, value] of Object.entries(all)) {
        if (value !== undefined) line += ` ${key}=${formatValue(typeof value === 'string' ? this.#redact(value) : value)}`;
      }
    }
    this.#sink.write(line + '\n');
  }

  /** `text` with every registered secret masked, for text shown anywhere but the log (the console's errors). */
  redact(text: string): string {
    return this.#redact(text);
  }

  #redact(text: string): string {
    let found: string[] | undefined;
    for (const secret of this.#secrets.keys()) {
      if (text.includes(secret)) (found ??= []).push(secret);
    }
    if (found === undefined) return text;
    // Longest first: a secret that contains a shorter one is masked whole, not left as "[redacted]efgh".
    found.sort((a, b) => b.length - a.length);
    for (const secret of found) text = text.replaceAll(secret, MASK);
    return text;
  }
}

function levelOfRank(rank: number): LogLevel {
  return (Object.keys(RANK) as LogLevel[]).find((level) => RANK[level] === rank) ?? 'info';
}

function formatValue(value: string | number | boolean | null): string {
  if (typeof value !== 'string') return String(value);
  return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
}

/**
 * An event that can come in floods (a child's non-JSON lines, its stderr): the first `perWindow`
 * in each `windowMs` are logged, the rest counted and said in one line when the window ends.
 */
export class LogBudget {
  #log: Logger;
  #level: LogLevel;
  #msg: string;
  #perWindow: number;
  #windowMs: number;
  #windowStartMs = 0;
  #inWindow = 0;
  #skipped = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(log: Logger, level: LogLevel, msg: string, limits: { perWindow: number; windowMs: number }) {
    this.#log = log;
    this.#level = level;
    this.#msg = msg;
    this.#perWindow = limits.perWindow;
    this.#windowMs = limits.windowMs;
  }

  hit(fields?: LogFields): void {
    const nowMs = Date.now();
    if (nowMs - this.#windowStartMs >= this.#windowMs) {
      this.#windowStartMs = nowMs;
      this.#inWindow = 0;
    }
    if (++this.#inWindow <= this.#perWindow) {
      this.#log[this.#level](this.#msg, fields);
      return;
    }
    this.#skipped++;
    this.#timer ??= setTimeout(() => this.flush(), this.#windowStartMs + this.#windowMs - nowMs).unref();
  }

  /** Says how many were not logged, if any (at the window's end, and when the source ends). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#skipped === 0) return;
    this.#log[this.#level](`${this.#msg} (more of the same not logged)`, { skipped: this.#skipped });
    this.#skipped = 0;
  }
}

/** Shortens a body for debug logs. */
export function truncate(text: string, maxChars = 500): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars)}…(${text.length} chars)`;
}
