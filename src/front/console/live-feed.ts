/**
 * GET /status/stream: the status snapshot as Server-Sent Events, about once a second and at once when
 * a server changes state, to every viewer from one timer that runs only while someone watches. The snapshot is built and serialized once per
 * tick whatever the number of viewers; a viewer that does not read is cut off.
 */
import type { ServerResponse } from 'node:http';
import { SseWriter } from '../../http/sse-writer.ts';

/** A snapshot is a few KiB: a viewer this far behind has stopped reading. */
const MAX_UNSENT_BYTES = 1 << 20;

export class LiveFeed {
  #snapshot: () => unknown;
  #intervalMs: number;
  #viewers = new Set<SseWriter>();
  #timer: NodeJS.Timeout | undefined;
  #isNudged = false;

  constructor(snapshot: () => unknown, intervalMs: number) {
    this.#snapshot = snapshot;
    this.#intervalMs = intervalMs;
  }

  /** Opens the stream on `res` and sends the current snapshot at once, so a page never starts empty. */
  add(res: ServerResponse): void {
    const viewer = new SseWriter(res, MAX_UNSENT_BYTES, { 'cache-control': 'no-store' });
    viewer.retry(this.#intervalMs * 2);
    viewer.send(JSON.stringify(this.#snapshot()), 'status');
    if (!viewer.isOpen) return;
    this.#viewers.add(viewer);
    viewer.onClose(() => {
      this.#viewers.delete(viewer);
      if (this.#viewers.size === 0) this.#stopTimer();
    });
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
      this.#timer.unref();
    }
  }

  /**
   * Something changed (a child went down or came up): a snapshot goes out now rather than at the next
   * tick, since a restart can be over before then. Changes within one turn of the loop send one.
   */
  nudge(): void {
    if (this.#viewers.size === 0 || this.#isNudged) return;
    this.#isNudged = true;
    setImmediate(() => {
      this.#isNudged = false;
      this.#tick();
    });
  }

  #tick(): void {
    const data = JSON.stringify(this.#snapshot());
    for (const viewer of this.#viewers) viewer.send(data, 'status');
  }

  #stopTimer(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
