/** JSON-RPC 2.0 message shapes and the guards that classify untrusted input. */

export type JsonRpcId = string | number;
export type JsonObject = Record<string, unknown>;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: JsonObject;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: JsonObject;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export interface JsonRpcResponse {
  jsonrpc: '2.0';
  id: JsonRpcId | null;
  result?: unknown;
  error?: JsonRpcErrorObject;
}

export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A string, or a number JSON and JavaScript keep exactly. Past 2^53 a parsed integer is already not
 * the one sent (9007199254740993 reads as …992), so answering under it would change the client's id.
 */
function isId(value: unknown): value is JsonRpcId {
  return typeof value === 'string' || (typeof value === 'number' && Math.abs(value) <= Number.MAX_SAFE_INTEGER);
}

export function isRequest(msg: JsonRpcMessage): msg is JsonRpcRequest {
  return 'method' in msg && (msg as JsonRpcRequest).id !== undefined;
}

export function isNotification(msg: JsonRpcMessage): msg is JsonRpcNotification {
  return 'method' in msg && (msg as JsonRpcRequest).id === undefined;
}

export function isResponse(msg: JsonRpcMessage): msg is JsonRpcResponse {
  return !('method' in msg);
}

/**
 * Why `value` is not a JSON-RPC 2.0 message, or undefined when it is one.
 * Checks shape only (the envelope), never the method's params.
 */
export function invalidReason(value: unknown): string | undefined {
  if (!isObject(value)) return 'a JSON-RPC message must be an object';
  if (value.jsonrpc !== '2.0') return 'jsonrpc must be "2.0"';
  if ('method' in value) {
    if (typeof value.method !== 'string' || value.method === '') return 'method must be a non-empty string';
    if (value.id !== undefined && !isId(value.id)) return 'id must be a string or a number within ±(2^53-1) (a larger number cannot be kept exactly: send it as a string)';
    if (value.params !== undefined && !isObject(value.params) && !Array.isArray(value.params)) {
      return 'params must be an object or an array';
    }
    return undefined;
  }
  if (value.id !== null && !isId(value.id)) return 'a response id must be a string, a number or null';
  const hasResult = 'result' in value;
  const hasError = 'error' in value;
  if (hasResult === hasError) return 'a response carries exactly one of result and error';
  if (hasError) {
    const err = value.error;
    if (!isObject(err) || typeof err.code !== 'number' || typeof err.message !== 'string') {
      return 'error must be an object with a numeric code and a string message';
    }
  }
  return undefined;
}

export function errorResponse(id: JsonRpcId | null, code: number, message: string, data?: unknown): JsonRpcResponse {
  const error: JsonRpcErrorObject = data === undefined ? { code, message } : { code, message, data };
  return { jsonrpc: '2.0', id, error };
}

export function resultResponse(id: JsonRpcId, result: unknown): JsonRpcResponse {
  return { jsonrpc: '2.0', id, result };
}

const serialized = new WeakMap<object, string>();

/**
 * The JSON text of a message on its way to clients. A broadcast hands the same object to every
 * session, so it is serialized once, not once per session. Safe because the hub rewrites a message
 * before handing it out and never after.
 */
export function serialize(msg: JsonRpcMessage): string {
  let text = serialized.get(msg);
  if (text === undefined) serialized.set(msg, (text = JSON.stringify(msg)));
  return text;
}
