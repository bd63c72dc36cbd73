/**
 * Raw HTTP helpers for wire-level tests: an SSE reader over fetch that parses with a line buffer
 * (events may be split across chunks or share one), and small JSON-RPC request builders.
 * Every wait has a deadline.
 */

export interface SseEvent {
  /** `message` unless the event named itself. */
  event: string;
  data: string;
  id: string | undefined;
  retry: number | undefined;
}

/** One open `text/event-stream` response, read event by event. */
export class SseReader {
  readonly response: Response;
  /** Comment lines seen so far (without the leading colon and space). */
  readonly comments: string[] = [];
  /** Every `retry:` value seen so far, in order. */
  readonly retries: number[] = [];
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #decoder = new TextDecoder();
  #text = '';
  #events: SseEvent[] = [];
  #isDone = false;
  #abort: AbortController;

  constructor(response: Response, abort: AbortController) {
    this.response = response;
    this.#abort = abort;
    this.#reader = response.body!.getReader();
  }

  /** True once the server ended the stream (or it was aborted). */
  get isDone(): boolean {
    return this.#isDone;
  }

  /** The next event, or rejects after `ms`; undefined when the stream ended first. */
  async next(ms = 10_000, what = 'SSE event'): Promise<SseEvent | undefined> {
    const deadline = Date.now() + ms;
    while (this.#events.length === 0) {
      if (this.#isDone) return undefined;
      await this.#pull(deadline, what);
    }
    return this.#events.shift();
  }

  /** Reads until a comment line equal to `text` arrives (events read meanwhile are kept). */
  async waitForComment(text: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.comments.includes(text)) {
      if (this.#isDone) throw new Error(`stream ended before comment "${text}"`);
      await this.#pull(deadline, `comment "${text}"`);
    }
  }

  /** Every event until the server ends the stream. */
  async rest(ms = 10_000): Promise<SseEvent[]> {
    const deadline = Date.now() + ms;
    const all: SseEvent[] = [];
    for (;;) {
      const event = await this.next(Math.max(1, deadline - Date.now()), 'end of SSE stream');
      if (event === undefined) return all;
      all.push(event);
    }
  }

  /** Drops the connection from the client side. */
  abort(): void {
    this.#isDone = true;
    this.#abort.abort();
    this.#reader.cancel().catch(() => {});
  }

  async #pull(deadline: number, what: string): Promise<void> {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`${what}: nothing within the deadline`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing within the deadline`)), left);
    });
    try {
      const chunk = await Promise.race([this.#reader.read(), timeout]);
      if (chunk.done) {
        this.#isDone = true;
        this.#text += this.#decoder.decode();
      } else {
        this.#text += this.#decoder.decode(chunk.value, { stream: true });
      }
    } catch (err) {
      if (this.#abort.signal.aborted) {
        this.#isDone = true;
        return;
      }
      if ((err as Error).message.includes('nothing within the deadline')) throw err;
      this.#isDone = true; // the server cut the connection
      return;
    } finally {
      clearTimeout(timer);
    }
    this.#parse();
  }

  #parse(): void {
    // Events end at a blank line; \r\n, \r and \n all end a line.
    for (;;) {
      const match = /\r\n\r\n|\n\n|\r\r/.exec(this.#text);
      if (match === null) return;
      const block = this.#text.slice(0, match.index);
      this.#text = this.#text.slice(match.index + match[0].length);
      let event = 'message';
      const data: string[] = [];
      let id: string | undefined;
      let retry: number | undefined;
      let hasData = false;
      for (const line of block.split(/\r\n|\r|\n/)) {
        if (line.startsWith(':')) {
          this.comments.push(line.slice(1).trimStart());
          continue;
        }
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') event = value;
        else if (field === 'data') {
          hasData = true;
          data.push(value);
        }
        else if (field === 'id') id = value;
        else if (field === 'retry') {
          retry = Number(value);
          this.retries.push(retry);
        }
      }
      // As in the EventSource spec, a block without data (e.g. only `retry:`) dispatches no event.
      if (hasData) this.#events.push({ event, data: data.join('\n'), id, retry });
    }
  }
}

/** GET `url` as an event stream; rejects on a non-2xx answer unless `allowError`. */
export async function openSse(url: string, headers: Record<string, string> = {}, ms = 10_000): Promise<SseReader> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ms);
  try {
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
    return new SseReader(response, abort);
  } finally {
    clearTimeout(timer);
  }
}

/** Wraps an already-fetched streaming response (a POST answered with SSE). */
export function readerOf(response: Response, abort: AbortController): SseReader {
  return new SseReader(response, abort);
}

/** A legacy /sse session opened by hand: the stream and the URL to POST to. */
export async function openLegacySession(base: string, query = ''): Promise<{ stream: SseReader; postUrl: string }> {
  const stream = await openSse(`${base}/sse${query}`);
  if (stream.response.status !== 200) throw new Error(`GET /sse answered ${stream.response.status}`);
  const endpoint = await stream.next(10_000, 'endpoint event');
  if (endpoint?.event !== 'endpoint') throw new Error(`first event was not endpoint: ${JSON.stringify(endpoint)}`);
  return { stream, postUrl: new URL(endpoint.data, `${base}/sse`).toString() };
}

/** POSTs `body` (a string is sent verbatim) and returns status, headers and text. */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  ms = 10_000,
): Promise<{ status: number; headers: Headers; text: string; json: unknown }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(ms),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

export const INIT_PARAMS = (protocolVersion: string, capabilities: Record<string, unknown> = {}): Record<string, unknown> => ({
  protocolVersion,
  capabilities,
  clientInfo: { name: 'raw-test', version: '1.0.0' },
});

/** The JSON-RPC error object of a body, for assertions. */
export function rpcError(json: unknown): { code: number; message: string } | undefined {
  return (json as { error?: { code: number; message: string } } | undefined)?.error;
}
