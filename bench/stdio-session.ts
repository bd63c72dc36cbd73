// The direct stdio baseline for the bench: the fixture as a child, JSON lines, no HTTP.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { BenchError, PROTOCOL_VERSION, PendingMap, parseMessages, handshake, type JsonRpcMessage, type McpSession } from './client.ts';


/** The floor: the fixture spawned directly, JSON lines on its stdin/stdout, no HTTP at all. */
export class StdioSession implements McpSession {
  #child: ChildProcessWithoutNullStreams;
  #pending = new PendingMap();
  #nextId = 0;
  #parts: Buffer[] = [];
  #partBytes = 0;
  #exited: Promise<void>;

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('close', () => resolve()));
    child.stdout.on('data', (c: Buffer) => this.#onData(c));
    child.stderr.resume();
    child.once('close', () => this.#pending.rejectAll(new BenchError('BENCH_CHILD_EXIT', 'child exited')));
    child.stdin.on('error', () => {}); // EPIPE after the child died: surfaced by its 'close'
  }

  get strays(): number {
    return this.#pending.strays;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** onSpawn lets the caller register the child for cleanup before the handshake can fail. */
  static async open(cmd: string, args: string[], timeoutMs: number, onSpawn?: (child: ChildProcessWithoutNullStreams) => void): Promise<StdioSession> {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    onSpawn?.(child);
    const s = new StdioSession(child);
    await handshake(s, PROTOCOL_VERSION, timeoutMs);
    return s;
  }

  #onData(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      const piece = chunk.subarray(start, nl);
      const line = this.#partBytes === 0 ? piece : Buffer.concat([...this.#parts, piece]);
      this.#parts = [];
      this.#partBytes = 0;
      start = nl + 1;
      try {
        for (const m of parseMessages(line.toString('utf8'))) this.#pending.settle(m);
      } catch {
        this.#pending.strays++;
      }
    }
    if (start < chunk.length) {
      this.#parts.push(chunk.subarray(start));
      this.#partBytes += chunk.length - start;
    }
  }

  #write(msg: JsonRpcMessage): void {
    this.#child.stdin.write(JSON.stringify(msg) + '\n');
  }

  call(method: string, params: unknown, timeoutMs: number): Promise<JsonRpcMessage> {
    const id = this.#nextId++;
    const reply = this.#pending.add(id, timeoutMs, method);
    this.#write({ jsonrpc: '2.0', id, method, params });
    return reply;
  }

  async notify(method: string, params?: unknown): Promise<void> {
    this.#write({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) });
  }

  /** Ends stdin (the fixture exits on EOF), then SIGKILL if it has not gone within 2 s. */
  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.stdin.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 2_000);
    await this.#exited;
    clearTimeout(timer);
  }
}
