/** The one way a JSON body is answered (health, status) and a proxy-made error reaches an HTTP client. */
import type { ServerResponse } from 'node:http';
import type { ProxyError } from '../protocol/errors.ts';
import type { JsonRpcId } from '../protocol/message.ts';

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

/** Answers `res` with `err`; once headers are out nothing valid is left to say, so the socket is closed. */
export function sendError(res: ServerResponse, err: ProxyError, id: JsonRpcId | null = null): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const error: Record<string, unknown> = { code: err.rpcCode, message: err.message };
  if (err.data !== undefined) error.data = err.data;
  const body = JSON.stringify({ jsonrpc: '2.0', id, error });
  res.writeHead(err.status, {
    ...err.headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
