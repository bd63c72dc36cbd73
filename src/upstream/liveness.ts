/**
 * Whether a running child answers, which is what "ready" means (not "it was spawned"). It has answered
 * once it replied to anything since it started; after that, a child silent for `idleMs` is sent a
 * `ping` (allowed at any time, before initialize too), and one that leaves it unanswered for
 * `timeoutMs`, or whose stdin no longer takes input, is not ready until it answers again. It is never
 * stopped for it: a child still installing (a cold `npx -y`) or busy with a blocking call is only
 * not ready, and its calls keep their own timeouts.
 */
import { isResponse, type JsonRpcMessage } from '../protocol/message.ts';

/** Silence after which a child is pinged. */
export const LIVENESS_IDLE_MS = 5_000;
/** How long a ping may go unanswered before the child is not ready. */
export const PING_TIMEOUT_MS = 5_000;
const CHECK_EVERY_MS = 1_000;
const PING_PREFIX = 'mcpproxy-liveness-';

export class Liveness {
  #send: (msg: JsonRpcMessage) => boolean;
  #changed: () => void;
  #now: () => number;
  #wasReady = false;
  #hasAnswered = false;
  #lastHeardMs: number;
  #ping: { id: string; sentMs: number } | undefined;
  #isStdinFull = false;
  #nextId = 1;
  #timer: NodeJS.Timeout;

  /** Starts watching a child that was just spawned: its first ping goes out at once. `changed`: it became ready or stopped being. */
  constructor(send: (msg: JsonRpcMessage) => boolean, changed: () => void, now: () => number = Date.now) {
    this.#send = send;
    this.#changed = changed;
    this.#now = now;
    this.#lastHeardMs = now();
    this.#sendPing();
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
    if (this.#ping !== undefined && !this.#isStdinFull) return; // one ping at a time; its answer is awaited
    if (this.#now() - this.#lastHeardMs >= LIVENESS_IDLE_MS || this.#isStdinFull) this.#sendPing();
  }

  #noteChange(): void {
    const isReady = this.notReadyReason() === undefined;
    if (isReady === this.#wasReady) return;
    this.#wasReady = isReady;
    this.#changed();
  }

  #sendPing(): void {
    const id = `${PING_PREFIX}${this.#nextId++}`;
    this.#isStdinFull = !this.#send({ jsonrpc: '2.0', id, method: 'ping' });
    if (!this.#isStdinFull) this.#ping = { id, sentMs: this.#now() };
  }
}
