/** JSON-RPC error codes and the error type every proxy-made answer to a peer carries. */
import type { JsonRpcId } from './message.ts';

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

/** A 2026-07-28 request whose headers (`Mcp-Name`, `Mcp-Param-*`) disagree with its body: 400, -32020. */
export function headerMismatch(message: string): ProxyError {
  return new ProxyError(400, RpcCode.headerMismatch, `Header mismatch: ${message}`);
}
