/** Reads a request body with a size bound, and parses it as JSON with errors a client can act on. */
import type { IncomingMessage } from 'node:http';
import { ProxyError, RpcCode } from '../protocol/errors.ts';
import { invalidReason, type JsonRpcMessage } from '../protocol/message.ts';

/**
 * The whole body, or a ProxyError 413 once it passes `maxBytes` (nothing more is kept; sendError
 * answers it while the rest of the upload is read and discarded, so the client gets to read the 413).
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = (): void => {
      req.removeListener('data', onData);
      req.pause();
      reject(new ProxyError(413, RpcCode.invalidRequest, `request body larger than ${maxBytes} bytes`));
    };
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) tooLarge();
      else chunks.push(chunk);
    };
    // After onData exists: tooLarge() removes it (calling it earlier threw a ReferenceError → 500).
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) return tooLarge();
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.once('error', reject);
    req.once('aborted', () => reject(new ProxyError(400, RpcCode.invalidRequest, 'request aborted')));
  });
}

/** Parses a JSON body; a body that does not parse is the client's error (400, -32700). */
export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    // V8's message quotes the body; a client's bytes are never echoed back (they may hold secrets).
    throw new ProxyError(400, RpcCode.parseError, 'Parse error: the body is not valid JSON');
  }
}

/** True when the Content-Type names JSON (parameters such as charset allowed). */
export function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const type = value.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

/**
 * The JSON-RPC messages of a parsed body: one message, or (when `allowBatch`) a non-empty array of them.
 * Anything else is a 400 with -32600 saying what is wrong.
 */
export function toMessages(value: unknown, allowBatch: boolean): JsonRpcMessage[] {
  if (Array.isArray(value)) {
    if (!allowBatch) throw new ProxyError(400, RpcCode.invalidRequest, 'Invalid Request: batches are not supported in this protocol version');
    if (value.length === 0) throw new ProxyError(400, RpcCode.invalidRequest, 'Invalid Request: empty batch');
    for (const item of value) checkMessage(item);
    return value as JsonRpcMessage[];
  }
  checkMessage(value);
  return [value as JsonRpcMessage];
}

function checkMessage(value: unknown): void {
  const reason = invalidReason(value);
  if (reason !== undefined) throw new ProxyError(400, RpcCode.invalidRequest, `Invalid Request: ${reason}`);
}
