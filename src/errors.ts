/** JSON-RPC error codes and the one way a proxy-made error reaches an HTTP client. */
import type { ServerResponse } from 'node:http';
import type { JsonRpcId } from './jsonrpc/message.ts';

export const RpcCode = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  /** Implementation-defined server error: the child is not running, exited, timed out. */
  serverError: -32000,
  /** The SDK's code for an unknown or ended Streamable HTTP session. */
  sessionNotFound: -32001,
  headerMismatch: -32020,
  missingClientCapability: -32021,
  unsupportedProtocolVersion: -32022,
} as const;

/** An error the proxy answers a peer with: an HTTP status plus a JSON-RPC error object. */
export class ProxyError extends Error {
  readonly status: number;
  readonly rpcCode: number;
  readonly data: unknown;
  readonly headers: Record<string, string>;
  /** The id of the request refused, when it was read before the refusal (echoed in the error). */
  requestId: JsonRpcId | null = null;

  constructor(status: number, rpcCode: number, message: string, options: { data?: unknown; headers?: Record<string, string> } = {}) {
    super(message);
    this.status = status;
    this.rpcCode = rpcCode;
    this.data = options.data;
    this.headers = options.headers ?? {};
  }
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
