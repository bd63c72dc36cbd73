/**
 * The path between a Hub and its child. A legacy child is written to directly; a modern one through a
 * ModernChildAdapter. A stdio child whose era its unit does not know yet is detected on its own first
 * handshake (MCP-ERAS §2, no sibling process): the first `initialize` the Hub sends is forwarded; a
 * result means legacy, an error means `server/discover` is asked on the same child, and a DiscoverResult
 * then means modern (the adapter answers that initialize). Asked `server/discover` first instead (pinned
 * `modern`, a remembered modern verdict, or a child that died on `initialize`), the order is reversed.
 * Nothing here has a timer: a slow child is waited for like any other, bounded by the Hub's timeouts.
 * Until the era is known, what the Hub sends waits here, bounded.
 */
import { errorResponse, isObject, isRequest, isResponse, type JsonRpcMessage, type JsonRpcRequest, type JsonRpcResponse } from '../protocol/message.ts';
import { RpcCode } from '../protocol/errors.ts';
import { LOG_LEVEL_KEY } from '../protocol/meta-keys.ts';
import type { Logger } from '../observe/log.ts';
import { classifyProbeReply, discoverRequest, PREFERRED_MODERN_VERSION, PROBE_ID, RETRY_PROBE_ID, type UpstreamEra } from './era-probe.ts';
import type { EraMemory, FirstAsk } from './era-memory.ts';
import { peerAttributes, RoundTrips } from '../trace/round-trips.ts';
import { tracing } from '../trace/tracer.ts';
import { ModernChildAdapter } from './modern-child.ts';

/**
 * A stdio child of a known modern era answers nothing else on its own (the adapter answers `initialize`
 * and `ping` itself): this `server/discover` is what shows it answers (liveness.ts); its reply is dropped.
 */
const ANSWER_CHECK_ID = 'mcpproxy-answer-check';

/** Messages held while the era is unknown; past it the Hub is told the child cannot take more. */
const MAX_QUEUED_MESSAGES = 1000;

export interface RouteOptions {
  /** The unit's memory of its children's era (a stdio child); absent for a remote, whose era comes with connect(). */
  memory?: EraMemory | undefined;
  log: Logger;
  /** Our own version, sent as clientInfo with `server/discover`. */
  clientVersion: string;
  /** The server this route reaches (its spec: name, and URL for a remote member), for the spans' attributes. */
  peer?: { name: string; remote?: { url: string } | undefined } | undefined;
  now(): number;
}

/** Detection on one child: which request is out, and the Hub's initialize it belongs to. */
interface Detecting {
  /** The request the child was sent first: if it dies before answering, the next child tries the other. */
  first: FirstAsk;
  /** The Hub's initialize, once it came (forwarded when legacy is tried first, else held). */
  initialize: JsonRpcRequest | undefined;
  /** The child's error to that initialize, held while `server/discover` decides. */
  refusal: JsonRpcResponse | undefined;
  /** Id of the `server/discover` out, if one is. */
  discoverId: string | undefined;
}

export class UpstreamRoute {
  #toHub: (msg: JsonRpcMessage) => void;
  #opts: RouteOptions;
  #toChild: ((msg: JsonRpcMessage) => boolean) | undefined;
  #adapter: ModernChildAdapter | undefined;
  #queue: JsonRpcMessage[] | undefined = [];
  #detecting: Detecting | undefined;
  /** When the running child was started and whether it answered yet (its start time is logged once). */
  #startedMs: number | undefined;
  #hasBeenUp = false;
  #isClosed = false;

  /** The client span of each request to the child, when tracing is on. */
  #trips: RoundTrips | undefined;

  constructor(toHub: (msg: JsonRpcMessage) => void, opts: RouteOptions) {
    const peer = opts.peer;
    const trips = tracing.isOn && peer !== undefined ? new RoundTrips(peerAttributes(peer.name, peer.remote?.url)) : undefined;
    this.#trips = trips;
    this.#toHub = trips === undefined ? toHub : (msg) => trips.received(msg, toHub);
    this.#opts = opts;
  }

  /** The child can be written to; `era` for a remote (probed beforehand). A stdio child starts with childUp(). */
  connect(toChild: (msg: JsonRpcMessage) => boolean, era?: UpstreamEra): void {
    this.#toChild = toChild;
    if (era !== undefined) this.#settle(era, 'known');
  }

  /** A child process is running (the first, or one that replaced the old one, before the Hub is told it is up). */
  childUp(): void {
    this.#startedMs = this.#opts.now();
    const isRestart = this.#hasBeenUp;
    this.#hasBeenUp = true;
    // The old child's round trips never get an answer: their spans end as lost.
    if (isRestart) this.#trips?.lost();
    if (this.#adapter !== undefined) {
      if (isRestart) this.#adapter.reset();
      return this.#askAnswered();
    }
    const memory = this.#opts.memory;
    if (memory === undefined || this.#queue === undefined) return;
    const known = memory.known;
    if (known !== undefined) {
      this.#settle(known, 'known');
      return this.#askAnswered();
    }
    this.#detecting = { first: memory.first, initialize: undefined, refusal: undefined, discoverId: undefined };
    if (memory.first === 'discover') this.#askDiscover(PROBE_ID, PREFERRED_MODERN_VERSION);
    // What the Hub sent before the child ran (its initialize among it) goes through detection now.
    const early = this.#queue;
    this.#queue = [];
    for (const msg of early) this.send(msg);
  }

  /** The proxy is stopping this route's child: its exit says nothing about the server. */
  close(): void {
    this.#isClosed = true;
  }

  /** The child exited. One that died on its first request makes the next child try the other era first. */
  childGone(): void {
    this.#startedMs = undefined;
    // Its first start is over, answered or not (a command that cannot be spawned never came up).
    this.#opts.memory?.firstStartOver();
    const detecting = this.#detecting;
    if (detecting === undefined) return;
    this.#detecting = undefined;
    const diedOnFirst = detecting.first === 'initialize' ? detecting.initialize !== undefined && detecting.refusal === undefined : detecting.discoverId === PROBE_ID;
    if (diedOnFirst && !this.#isClosed) this.#opts.memory?.diedOn(detecting.first);
    // The Hub failed every call of that child; nothing queued for it may reach the next one.
    this.#queue = [];
  }

  /** The era is settled and it is legacy: what a liveness ping may be sent to. */
  get isLegacy(): boolean {
    return this.#queue === undefined && this.#adapter === undefined;
  }

  /** From the Hub; false when the child cannot take it (or the wait queue is full). */
  send(msg: JsonRpcMessage): boolean {
    const detecting = this.#detecting;
    if (detecting !== undefined && detecting.initialize === undefined && isRequest(msg) && msg.method === 'initialize') {
      if (detecting.first === 'discover') {
        detecting.initialize = msg; // held for the verdict: the adapter answers it, or a legacy child gets it
        return true;
      }
      // Legacy is tried first with the Hub's own handshake: a legacy child costs nothing more.
      detecting.initialize = structuredClone(msg);
      const isSent = this.#toChild!(msg);
      if (!isSent) detecting.initialize = undefined; // the Hub answers it; the next initialize is tried instead
      return isSent;
    }
    if (this.#queue !== undefined) {
      if (this.#queue.length >= MAX_QUEUED_MESSAGES) return false;
      this.#queue.push(msg);
      return true;
    }
    return this.#trips === undefined ? this.#write(msg) : this.#trips.send(msg, (traced) => this.#write(traced));
  }

  #write(msg: JsonRpcMessage): boolean {
    // The adapter may answer synchronously (initialize, ping): the Hub records a call before sending it.
    if (this.#adapter !== undefined) return this.#adapter.send(msg);
    withoutLogLevel(msg);
    return this.#toChild!(msg);
  }

  /** From the child. */
  receive(msg: JsonRpcMessage): void {
    if (this.#startedMs !== undefined && isResponse(msg)) this.#firstAnswer();
    this.#fromChild(msg);
  }

  #fromChild(msg: JsonRpcMessage): void {
    if (isResponse(msg) && msg.id === ANSWER_CHECK_ID) return;
    const detecting = this.#detecting;
    if (detecting !== undefined && isResponse(msg)) {
      if (msg.id === detecting.discoverId) return this.#discoverAnswered(detecting, msg);
      if (detecting.initialize !== undefined && msg.id === detecting.initialize.id && detecting.first === 'initialize') {
        if (msg.error === undefined) return this.#settle({ era: 'legacy' }, 'initialize', msg);
        detecting.refusal = msg;
        return this.#askDiscover(PROBE_ID, PREFERRED_MODERN_VERSION);
      }
    }
    if (this.#adapter !== undefined) this.#adapter.receive(msg);
    else this.#toHub(msg);
  }

  /** Spawn to first answer: what a start costs (an install by npx or uvx included), logged for a stdio child. */
  #firstAnswer(): void {
    const memory = this.#opts.memory;
    if (memory !== undefined) {
      this.#opts.log.info('child answered first', { startMs: this.#opts.now() - this.#startedMs!, detecting: this.#detecting === undefined ? 'no' : 'yes' });
      memory.firstStartOver();
    }
    this.#startedMs = undefined;
  }

  /** A stdio child served by the adapter from a known verdict: asked something only the child can answer. */
  #askAnswered(): void {
    if (this.#adapter !== undefined && this.#opts.memory !== undefined) this.#toChild!(discoverRequest(ANSWER_CHECK_ID, PREFERRED_MODERN_VERSION, this.#opts.clientVersion));
  }

  #askDiscover(id: string, version: string): void {
    this.#detecting!.discoverId = id;
    this.#toChild!(discoverRequest(id, version, this.#opts.clientVersion));
  }

  #discoverAnswered(detecting: Detecting, reply: JsonRpcResponse): void {
    const verdict = classifyProbeReply(reply);
    if (verdict.kind === 'retry' && detecting.discoverId === PROBE_ID) return this.#askDiscover(RETRY_PROBE_ID, verdict.version);
    const via = detecting.first === 'discover' ? 'discover-first' : 'discover';
    if (verdict.kind === 'modern') return this.#settle({ era: 'modern', version: verdict.version, discover: verdict.discover }, via);
    const reason = verdict.kind === 'retry' ? 'a second -32022 after a corrective re-ask' : verdict.reason;
    this.#opts.log.debug('server/discover: legacy', { reason });
    const memory = this.#opts.memory!;
    if (memory.pin === 'modern') {
      this.#detecting = undefined;
      memory.notModern(reason);
      return this.#refuseQueued(detecting.initialize, `upstream protocol modern: the MCP server did not answer server/discover (${reason})`);
    }
    if (detecting.first === 'discover') {
      // Legacy after all: the initialize held for the verdict goes to the child now, in its place.
      return this.#settle({ era: 'legacy' }, via);
    }
    this.#settle({ era: 'legacy' }, 'initialize', detecting.refusal);
  }

  /** The era is known: the adapter if modern, then what waited, in order (the held initialize first). */
  #settle(era: UpstreamEra, via: 'initialize' | 'discover' | 'discover-first' | 'known', legacyAnswer?: JsonRpcResponse): void {
    const detecting = this.#detecting;
    this.#detecting = undefined;
    if (era.era === 'modern') {
      this.#adapter = new ModernChildAdapter(this.#toChild!, this.#toHub, { version: era.version, discover: era.discover, now: this.#opts.now });
    }
    if (this.#opts.memory !== undefined && via !== 'known') this.#opts.memory.learned(era, via);
    const queued = this.#queue ?? [];
    this.#queue = undefined;
    const held = detecting?.initialize;
    // A legacy child already has the initialize it answered (legacyAnswer); anyone else still needs it sent.
    if (held !== undefined && legacyAnswer === undefined) this.send(held);
    for (const msg of queued) this.send(msg);
    if (legacyAnswer !== undefined) this.#toHub(legacyAnswer);
  }

  /** The child cannot be served as configured: every request that waited is answered now. */
  #refuseQueued(held: JsonRpcRequest | undefined, message: string): void {
    const queued = [...(held === undefined ? [] : [held]), ...(this.#queue ?? [])];
    this.#queue = [];
    for (const msg of queued) if (isRequest(msg)) this.#toHub(errorResponse(msg.id, RpcCode.serverError, message));
  }
}

/**
 * A 2026-07-28 caller's request keeps its `logLevel` down to here, for a modern child's envelope; a
 * legacy child has no per-request level (its logs are filtered per caller by the Hub and the transport).
 */
function withoutLogLevel(msg: JsonRpcMessage): void {
  const params = isRequest(msg) && isObject(msg.params) ? msg.params : undefined;
  const meta = params !== undefined && isObject(params._meta) ? params._meta : undefined;
  if (meta === undefined || !(LOG_LEVEL_KEY in meta)) return;
  delete meta[LOG_LEVEL_KEY];
  if (Object.keys(meta).length === 0) delete params!._meta;
}
