/**
 * One resumable SSE stream of a Streamable HTTP session: numbered events, a bounded replay buffer,
 * and at most one live connection at a time. Event ids are `<stream>-<seq>`, unique within the session
 * and naming the stream a `Last-Event-ID` resumes.
 */
import type { ServerResponse } from 'node:http';
import { SseWriter, type Heartbeat } from '../http/sse-writer.ts';

export interface StreamLimits {
  maxBufferBytes: number;
  replayEvents: number;
  replayBytes: number;
}

interface BufferedEvent {
  seq: number;
  data: string;
}

/** Parses `<stream>-<seq>`; undefined when it is not one of ours. */
export function parseEventId(value: string): { streamNo: number; seq: number } | undefined {
  const match = /^(\d{1,9})-(\d{1,15})$/.exec(value);
  return match === null ? undefined : { streamNo: Number(match[1]), seq: Number(match[2]) };
}

export class EventStream {
  readonly no: number;
  #limits: StreamLimits;
  #heartbeat: Heartbeat;
  #writer: SseWriter | undefined;
  #seq = 0;
  #buffer: BufferedEvent[] = [];
  #bufferBytes = 0;
  /** Events sent while the stream had no live connection, since its last one. */
  #undeliveredFrom: number | undefined;
  /** Before a stream's first connection there is nothing to resume: its events are dropped (MCP-ERAS §3.4). */
  #hasBeenAttached = false;
  isFinished = false;

  constructor(no: number, limits: StreamLimits, heartbeat: Heartbeat) {
    this.no = no;
    this.#limits = limits;
    this.#heartbeat = heartbeat;
  }

  get isLive(): boolean {
    return this.#writer?.isOpen === true;
  }

  /**
   * Makes `res` this stream's live connection: events after `afterSeq` are replayed first (all events
   * not yet delivered when undefined). `prime` sends the 2025-11-25 priming event and `retry` field.
   */
  attach(res: ServerResponse, headers: Record<string, string>, options: { afterSeq?: number; prime: boolean; retryMs: number }): SseWriter {
    const writer = new SseWriter(res, this.#limits.maxBufferBytes, headers);
    this.#writer = writer;
    this.#hasBeenAttached = true;
    this.#heartbeat.add(writer);
    const from = options.afterSeq ?? this.#undeliveredFrom;
    this.#undeliveredFrom = undefined;
    if (options.prime) {
      writer.retry(options.retryMs);
      // The priming id names the position before the first event this connection gets: a client that
      // drops right after it and resumes from it must still get the events replayed below.
      writer.prime(this.#eventId(from ?? this.#seq));
    }
    if (from !== undefined) {
      for (const event of this.#buffer) {
        if (event.seq > from) writer.send(event.data, 'message', this.#eventId(event.seq));
      }
    }
    writer.onClose(() => {
      if (this.#writer === writer) this.#writer = undefined;
    });
    if (this.isFinished) writer.end();
    return writer;
  }

  /** Sends (or, with no live connection, keeps for replay) one event. */
  send(data: string): void {
    if (!this.#hasBeenAttached) return;
    const seq = ++this.#seq;
    if (this.#limits.replayEvents > 0) this.#remember(seq, data);
    if (this.#writer?.isOpen === true) this.#writer.send(data, 'message', this.#eventId(seq));
    else if (this.#undeliveredFrom === undefined) this.#undeliveredFrom = seq - 1;
  }

  /** The last event was sent: the live connection ends; the buffer stays for a client that missed it. */
  finish(): void {
    this.isFinished = true;
    this.#writer?.end();
  }

  close(): void {
    this.isFinished = true;
    this.#writer?.end();
    this.#buffer = [];
  }

  #remember(seq: number, data: string): void {
    this.#buffer.push({ seq, data });
    this.#bufferBytes += data.length;
    while (this.#buffer.length > this.#limits.replayEvents || (this.#bufferBytes > this.#limits.replayBytes && this.#buffer.length > 1)) {
      this.#bufferBytes -= this.#buffer.shift()!.data.length;
    }
  }

  #eventId(seq: number): string {
    return `${this.no}-${seq}`;
  }
}
