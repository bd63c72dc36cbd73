/**
 * Ended spans to the collector, off the hot path: a bounded queue, drained in batches by one timer,
 * one export in flight at a time, each bounded by a timeout. A collector that is down, slow or
 * answering errors costs dropped spans (counted, one log line when it starts and one when it ends),
 * never a slower or failed call and never unbounded memory.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Logger } from '../observe/log.ts';
import { SpanBatch, type ExportSource } from './otlp.ts';
import type { Span } from './span.ts';

export interface ExporterOptions {
  url: URL;
  /** OTEL_EXPORTER_OTLP_HEADERS: sent with every export (often a vendor's API key). */
  headers: Record<string, string>;
  source: ExportSource;
  /** Spans waiting at most; past it new ones are dropped (OTEL_BSP_MAX_QUEUE_SIZE, default 2048). */
  maxQueue: number;
  /** Spans per export at most (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, default 512). */
  batchSize: number;
  /** How long a span may wait for a batch to fill (OTEL_BSP_SCHEDULE_DELAY, default 5000). */
  delayMs: number;
  /** One export's bound, connect to answer (OTEL_EXPORTER_OTLP_TIMEOUT, default 10000). */
  timeoutMs: number;
  log: Logger;
}

export type DropReason = 'queue_full' | 'export_failed';

export class SpanExporter {
  #opts: ExporterOptions;
  /** Encoded spans waiting, in batches of at most batchSize; `#queued` counts them all. */
  #batches: SpanBatch[] = [];
  #queued = 0;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #agent: HttpAgent;
  #failure: string | undefined;
  exported = 0;
  readonly dropped: Record<DropReason, number> = { queue_full: 0, export_failed: 0 };

  constructor(opts: ExporterOptions) {
    this.#opts = opts;
    this.#agent = opts.url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, maxSockets: 1 }) : new HttpAgent({ keepAlive: true, maxSockets: 1 });
  }

  /** An ended span: encoded into the last batch, or dropped when the queue is full. No I/O. */
  add(span: Span): void {
    if (this.#queued >= this.#opts.maxQueue) {
      this.dropped.queue_full++;
      this.#failing('the span queue is full (the collector is slower than the proxy)');
      return;
    }
    let batch = this.#batches.at(-1);
    if (batch === undefined || batch.count >= this.#opts.batchSize) this.#batches.push((batch = new SpanBatch()));
    batch.add(span);
    this.#queued++;
    if (this.#inFlight !== undefined) return; // the export's end looks at the queue again
    if (batch.count >= this.#opts.batchSize) this.#sendSoon(0);
    else if (this.#timer === undefined) this.#sendSoon(this.#opts.delayMs);
  }

  /** Sends what is queued, for up to `budgetMs`; what is left after it is dropped. */
  async flush(budgetMs: number): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const deadline = Date.now() + budgetMs;
    while (Date.now() < deadline && (this.#inFlight !== undefined || this.#queued > 0)) {
      const left = deadline - Date.now();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.#inFlight ?? this.#exportBatch(), new Promise((resolve) => { timer = setTimeout(resolve, left); })]);
      clearTimeout(timer);
    }
    this.dropped.export_failed += this.#queued;
    this.#batches = [];
    this.#queued = 0;
    this.#agent.destroy();
  }

  #sendSoon(delayMs: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#exportBatch();
    }, delayMs);
    this.#timer.unref();
  }

  #exportBatch(): Promise<void> {
    const batch = this.#batches.shift();
    if (batch === undefined) return Promise.resolve();
    this.#queued -= batch.count;
    const done = this.#post(batch.finish(this.#opts.source)).then((failure) => {
      if (failure === undefined) {
        this.exported += batch.count;
        if (this.#failure !== undefined) this.#opts.log.info('trace collector reachable again', { url: this.#opts.url.origin });
        this.#failure = undefined;
      } else {
        this.dropped.export_failed += batch.count;
        this.#failing(failure);
      }
      this.#inFlight = undefined;
      const next = this.#batches[0];
      if (next !== undefined) this.#sendSoon(next.count >= this.#opts.batchSize ? 0 : this.#opts.delayMs);
    });
    this.#inFlight = done;
    return done;
  }

  /** One line when exports start failing; quiet until they work again. */
  #failing(reason: string): void {
    if (this.#failure !== undefined) return;
    this.#failure = reason;
    this.#opts.log.warn('trace export failing: spans are dropped and counted (mcpproxy_trace_spans_dropped_total)', { url: this.#opts.url.origin, error: reason });
  }

  /** Resolves undefined on a 2xx, else why not; never rejects. */
  #post(body: Buffer): Promise<string | undefined> {
    const { url, headers, timeoutMs } = this.#opts;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      const req = send(url, {
        method: 'POST', agent: this.#agent,
        headers: { ...headers, 'content-type': 'application/x-protobuf', 'content-length': body.length },
      }, (res) => {
        res.resume(); // the answer (maybe a partial success) is not used
        res.once('end', () => {
          clearTimeout(timer);
          const status = res.statusCode ?? 0;
          resolve(status >= 200 && status < 300 ? undefined : `HTTP ${status}`);
        });
        res.once('close', () => resolve('the answer broke off')); // after 'end' this is a no-op
      });
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
      req.once('error', (err) => {
        clearTimeout(timer);
        resolve(err.message);
      });
      req.end(body);
    });
  }
}
