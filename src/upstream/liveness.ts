/**
 * Whether a running child answers, which is what "ready" means (not "it was spawned"). A child is
 * `starting` from its spawn until its first answer: its owner asks it something at once (the shared
 * backend makes the first handshake itself when no client has, upstream-route.ts asks a child of a
 * known modern era `server/discover`), so one that exits or hangs before answering never reads ready.
 * Nothing of its own is sent here before that first answer: a server may read any message before
 * `initialize` as its protocol's choice (a dual-era server took a bare `ping` for per-request legacy
 * serving). After it, a legacy child silent for `idleMs` is sent a `ping`, and one that leaves it
 * unanswered for `timeoutMs`, or whose stdin no longer takes input, is not ready until it answers
 * again. It is never stopped for it: a child still installing (a cold `npx -y`) or busy with a blocking
 * call is only not ready, and its calls keep their own timeouts.
 */
import { isResponse, type JsonRpcMessage } from '../protocol/message.ts';

/** Silence after which a child is pinged. */
const LIVENESS_IDLE_MS = 5_000;
/** How long a ping may go unanswered before the child is not ready. */
const PING_TIMEOUT_MS = 5_000;
const CHECK_EVERY_MS = 1_000;
const PING_PREFIX = 'mcpproxy-liveness-';

export interface LivenessOptions {
  send(msg: JsonRpcMessage): boolean;
  /** It became ready or stopped being. */
  changed(): void;
  /**
   * Whether the child may be pinged now (a legacy child; a 2026-07-28 one has no bare `ping`): asked at each
   * check, since a stdio child's era is told on its own first handshake.
   */
  canPing(): boolean;
  now?: () => number;
}

export class Liveness {
  #opts: LivenessOptions;
  #now: () => number;
  #hasAnswered = false;
  #wasReady = false;
  #lastHeardMs: number;
  #ping: { id: string; sentMs: number } | undefined;
  #isStdinFull = false;
  #nextId = 1;
  #timer: NodeJS.Timeout;

  constructor(opts: LivenessOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#lastHeardMs = this.#now();
    this.#timer = setInterval(() => this.#check(), CHECK_EVERY_MS).unref();
  }

  /**
   * Every message from the child passes here; true when it was the answer to a liveness ping (not for
   * the Hub). Any reply counts as an answer: a child that answers calls needs no ping answered too.
   */
  heard(msg: JsonRpcMessage): boolean {
    this.#lastHeardMs = this.#now();
    if (!isResponse(msg)) return false;
    this.#hasAnswered = true;
    this.#ping = undefined;
    this.#isStdinFull = false;
    this.#noteChange();
    return typeof msg.id === 'string' && msg.id.startsWith(PING_PREFIX);
  }

  /** Why the child does not count as answering, or undefined when it does. */
  notReadyReason(): string | undefined {
    if (!this.#hasAnswered) return 'starting: the child has not answered yet';
    if (this.#isStdinFull) return 'not reading its stdin: a ping could not be written';
    const ping = this.#ping;
    const waitedMs = ping === undefined ? 0 : this.#now() - ping.sentMs;
    if (waitedMs > PING_TIMEOUT_MS) return `not answering: a ping has had no answer for ${Math.round(waitedMs / 1000)} s`;
    return undefined;
  }

  close(): void {
    clearInterval(this.#timer);
  }

  #check(): void {
    this.#noteChange();
    if (!this.#hasAnswered || !this.#opts.canPing()) return;
    if (this.#ping !== undefined) return; // one ping at a time; its answer is awaited
    if (this.#now() - this.#lastHeardMs >= LIVENESS_IDLE_MS || this.#isStdinFull) this.#sendPing();
  }

  #noteChange(): void {
    const isReady = this.notReadyReason() === undefined;
    if (isReady === this.#wasReady) return;
    this.#wasReady = isReady;
    this.#opts.changed();
  }

  #sendPing(): void {
    const id = `${PING_PREFIX}${this.#nextId++}`;
    this.#isStdinFull = !this.#opts.send({ jsonrpc: '2.0', id, method: 'ping' });
    if (!this.#isStdinFull) this.#ping = { id, sentMs: this.#now() };
    this.#noteChange();
  }
}
