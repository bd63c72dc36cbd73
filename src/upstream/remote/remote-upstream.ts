/**
 * A remote MCP server kept connected for a shared member, with the face a supervised stdio child
 * shows the Hub (send, message/up/down): a lost connection (refused, TLS, 5xx, its session or stream
 * gone) is `down` at once, so calls fail fast naming the member, and reconnecting follows the
 * Supervisor's backoff (0.5 s doubling to 30 s, reset after a minute of health). A new connection is
 * `up(true)`, and the Hub initializes it again from its cache.
 */
import type { JsonRpcMessage } from '../../protocol/message.ts';
import type { Logger } from '../../observe/log.ts';
import type { ParamHeaderRegistry } from '../../protocol/param-headers.ts';
import type { SupervisorEvents } from '../supervisor.ts';
import { discoverRequest, PROBE_ID } from '../era-probe.ts';
import type { RemoteTarget } from './http-call.ts';
import type { RemoteVerdict } from './remote-probe.ts';
import { SseClient } from './sse-client.ts';
import { StatelessClient } from './stateless-client.ts';
import { StreamableClient } from './streamable-client.ts';
import type { RemoteTransport, TransportEvents } from './transport.ts';

export interface RemoteOptions {
  /** The member's name, in every reason a caller sees. */
  name: string;
  target: RemoteTarget;
  verdict: RemoteVerdict;
  requestTimeoutMs: number;
  maxMessageBytes: number;
  clientVersion: string;
  log: Logger;
  /** The member's tools' `x-mcp-header` declarations, learnt by any of its connections (a stateless remote's). */
  paramHeaders: ParamHeaderRegistry;
}

const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
const HEALTHY_AFTER_MS = 60_000;
/** Messages held until the first connection is made; past it senders are refused. */
const MAX_FIRST_QUEUE = 1000;

/** A transport of the verdict's kind (one connection's worth). */
export function openTransport(opts: RemoteOptions, events: TransportEvents): RemoteTransport {
  const transportOpts = { target: opts.target, requestTimeoutMs: opts.requestTimeoutMs, maxMessageBytes: opts.maxMessageBytes };
  const { verdict } = opts;
  if (verdict.era === 'modern') {
    return new StatelessClient(transportOpts, events, discoverRequest(PROBE_ID, verdict.version, opts.clientVersion), opts.paramHeaders);
  }
  return verdict.kind === 'sse' ? new SseClient(transportOpts, events) : new StreamableClient(transportOpts, events);
}

/** `remote api unreachable (connect ECONNREFUSED 127.0.0.1:9)`: what a failed call says. */
export function lostReason(name: string, reason: string): string {
  return `remote ${name} unreachable (${reason})`;
}

export class RemoteUpstream {
  #opts: RemoteOptions;
  #events: SupervisorEvents;
  #transport: RemoteTransport | undefined;
  #state: 'running' | 'stopped' = 'running';
  #backoffMs = FIRST_BACKOFF_MS;
  #retryTimer: NodeJS.Timeout | undefined;
  #healthyTimer: NodeJS.Timeout | undefined;
  #downReason: string | undefined = 'starting';
  #hasBeenUp = false;
  #firstQueue: JsonRpcMessage[] = [];

  constructor(opts: RemoteOptions, events: SupervisorEvents) {
    this.#opts = opts;
    this.#events = events;
    void this.#connect();
  }

  /** A remote member runs no process here. */
  get pid(): number | undefined {
    return undefined;
  }

  /** No process here, so nothing to measure. */
  usage(): undefined {
    return undefined;
  }

  get isRunning(): boolean {
    return this.#downReason === undefined;
  }

  get downReason(): string | undefined {
    return this.#downReason;
  }

  send(msg: JsonRpcMessage): boolean {
    if (this.isRunning) return this.#transport?.send(msg) ?? false;
    // The first connection is still being made: the first client's initialize waits for it, as it
    // would for a child's spawn. Once the server has been lost, calls fail fast instead.
    if (this.#hasBeenUp || this.#firstQueue.length >= MAX_FIRST_QUEUE) return false;
    this.#firstQueue.push(msg);
    return true;
  }

  async stop(): Promise<void> {
    this.#state = 'stopped';
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#healthyTimer);
    await this.#transport?.close();
  }

  async #connect(): Promise<void> {
    const transport = openTransport(this.#opts, {
      message: (msg) => {
        if (this.#transport === transport) this.#events.message(msg);
      },
      lost: (reason) => {
        if (this.#transport === transport) this.#lost(lostReason(this.#opts.name, reason));
      },
    });
    this.#transport = transport;
    try {
      await transport.connect();
    } catch (err) {
      return this.#lost(lostReason(this.#opts.name, (err as Error).message));
    }
    if (this.#state === 'stopped' || this.#transport !== transport) return void transport.close();
    this.#downReason = undefined;
    this.#healthyTimer = setTimeout(() => { this.#backoffMs = FIRST_BACKOFF_MS; }, HEALTHY_AFTER_MS);
    this.#healthyTimer.unref();
    this.#opts.log.info('remote server connected', { url: this.#opts.target.url.origin, era: this.#opts.verdict.era, kind: this.#opts.verdict.kind });
    this.#events.up(this.#hasBeenUp);
    this.#hasBeenUp = true;
    const queued = this.#firstQueue;
    this.#firstQueue = [];
    for (const msg of queued) transport.send(msg);
  }

  #lost(reason: string): void {
    clearTimeout(this.#healthyTimer);
    const wasUp = this.#downReason === undefined;
    void this.#transport?.close();
    this.#transport = undefined;
    this.#downReason = reason;
    // The Hub fails the calls these belonged to on `down`: sent later they would be strays.
    this.#firstQueue = [];
    this.#events.down(reason, { code: null, signal: null, lost: reason });
    if (this.#state === 'stopped') return;
    const delay = this.#backoffMs;
    this.#opts.log.warn(wasUp ? 'remote server lost' : 'remote server not reachable, retrying', { reason, inMs: delay });
    this.#backoffMs = Math.min(this.#backoffMs * 2, MAX_BACKOFF_MS);
    this.#retryTimer = setTimeout(() => void this.#connect(), delay);
    this.#retryTimer.unref();
  }
}
