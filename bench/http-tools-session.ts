// `POST /tools/<name>` (the OpenAPI facade) behind the McpSession interface, so the same latency and
// throughput phases that measure the MCP transports measure it, on the same keep-alive agent.
import http from 'node:http';
import { BenchError, type JsonRpcMessage, type McpSession } from './client.ts';

export class HttpToolsSession implements McpSession {
  readonly strays = 0;
  #baseUrl: string;
  #agent: http.Agent;
  #nextId = 1;

  constructor(baseUrl: string, agent: http.Agent) {
    this.#baseUrl = baseUrl;
    this.#agent = agent;
  }

  /** Only `tools/call`: the reply body becomes the result (`{ content }`), a non-200 status an error. */
  call(method: string, params: unknown, timeoutMs: number): Promise<JsonRpcMessage> {
    const { name, arguments: args } = params as { name: string; arguments: unknown };
    const id = this.#nextId++;
    if (method !== 'tools/call') return Promise.reject(new BenchError('unsupported', `${method} has no plain HTTP operation`));
    const body = JSON.stringify(args);
    return new Promise((resolve, reject) => {
      const req = http.request(`${this.#baseUrl}/tools/${encodeURIComponent(name)}`, {
        method: 'POST', agent: this.#agent, timeout: timeoutMs,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('error', reject);
        res.once('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 200) resolve({ jsonrpc: '2.0', id, result: JSON.parse(text) });
          else resolve({ jsonrpc: '2.0', id, error: { code: res.statusCode ?? 0, message: text.slice(0, 200) } });
        });
      });
      req.once('timeout', () => req.destroy(new BenchError('timeout', `POST /tools/${name}: no answer within ${timeoutMs} ms`)));
      req.once('error', reject);
      req.end(body);
    });
  }

  async notify(): Promise<void> {}

  async close(): Promise<void> {}
}
