/**
 * An OTLP/HTTP receiver for tests: keeps every body it is sent (or answers 500, or never answers),
 * and decodes them with the official opentelemetry-proto classes through test/helpers/otlp-decode.py.
 * The Python package comes from this machine's package index into a venv kept in the temp dir.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DECODER = join(import.meta.dirname, 'otlp-decode.py');
const VENV = join(tmpdir(), 'mcpproxy-test-otel-proto');

export interface DecodedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  start: number;
  end: number;
  attributes: Record<string, string | number | boolean>;
  /** StatusCode: 0 unset, 2 error. */
  status: number;
  flags: number;
  scope: string;
  resource: Record<string, string | number | boolean>;
}

/** A Python that can import opentelemetry.proto (a venv made once, from the local index). */
function python(): string {
  const bin = join(VENV, 'bin', 'python');
  const canImport = (): boolean => {
    try {
      execFileSync(bin, ['-c', 'import opentelemetry.proto.collector.trace.v1.trace_service_pb2'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (existsSync(bin) && canImport()) return bin;
  execFileSync('python3', ['-m', 'venv', VENV], { stdio: 'ignore' });
  execFileSync(join(VENV, 'bin', 'pip'), ['install', '-q', 'opentelemetry-proto'], { stdio: 'ignore', timeout: 120_000 });
  return bin;
}

export type ReceiverMode = 'ok' | 'fail' | 'stall';

export class OtlpReceiver {
  readonly bodies: Buffer[] = [];
  mode: ReceiverMode;
  requests = 0;
  #server = createServer((req, res) => this.#serve(req, res));
  #stalled = new Set<ServerResponse>();

  constructor(mode: ReceiverMode = 'ok') {
    this.mode = mode;
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  #serve(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      this.requests++;
      if (this.mode === 'stall') return void this.#stalled.add(res);
      if (this.mode === 'fail') return void res.writeHead(500).end('collector down');
      if (req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/x-protobuf') return void res.writeHead(415).end();
      this.bodies.push(Buffer.concat(chunks));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  }

  /** Every byte received so far, for "this secret never left the proxy". */
  get raw(): Buffer {
    return Buffer.concat(this.bodies);
  }

  /** The spans received so far, decoded by the official schema; `reencoded`: bodies are canonical protobuf. */
  decode(): { spans: DecodedSpan[]; reencoded: boolean } {
    if (this.bodies.length === 0) return { spans: [], reencoded: true };
    const dir = mkdtempSync(join(tmpdir(), 'otlp-bodies-'));
    try {
      const files = this.bodies.map((body, i) => {
        const file = join(dir, `${i}.bin`);
        writeFileSync(file, body);
        return file;
      });
      return JSON.parse(execFileSync(python(), [DECODER, ...files], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })) as { spans: DecodedSpan[]; reencoded: boolean };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    for (const res of this.#stalled) res.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
