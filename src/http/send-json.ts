/** The one way a JSON body is answered (health, status) and a proxy-made error reaches an HTTP client. */
import type { ServerResponse } from 'node:http';
import type { ProxyError } from '../protocol/errors.ts';
import type { JsonRpcId } from '../protocol/message.ts';

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

/** After an answer given before the upload ended, how much more of it is read (and dropped) at most. */
const DISCARD_MAX_BYTES = 64 * 1024 * 1024;
const DISCARD_MAX_MS = 5_000;

/**
 * Answers `res` with `err`; once headers are out nothing valid is left to say, so the socket is closed.
 * An answer given while the client is still uploading (a 413, a 401 before the body) says
 * `connection: close` and is written at once, but the response ends only once the upload has ended or
 * a bound of bytes or time has passed: Node closes the socket when a `connection: close` response
 * ends, and a socket closed with bytes unread resets (RST), losing the answer the client had not read yet.
 */
export function sendError(res: ServerResponse, err: ProxyError, id: JsonRpcId | null = null): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const error: Record<string, unknown> = { code: err.rpcCode, message: err.message };
  if (err.data !== undefined) error.data = err.data;
  const body = JSON.stringify({ jsonrpc: '2.0', id, error });
  const isUploading = !res.req.complete && !res.req.destroyed;
  res.writeHead(err.status, {
    ...err.headers,
    ...(isUploading ? { connection: 'close' } : {}),
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  if (!isUploading) return void res.end(body);
  res.write(body);
  endAfterUpload(res);
}

/** Reads and drops the rest of `res`'s request, then ends `res`: at the request's end, or after the bounds. */
function endAfterUpload(res: ServerResponse): void {
  const { req } = res;
  let dropped = 0;
  const end = (): void => {
    clearTimeout(timer);
    req.removeListener('data', onData);
    req.removeListener('end', end);
    res.removeListener('close', end);
    if (!res.writableEnded && !res.destroyed) res.end();
  };
  const onData = (chunk: Buffer): void => {
    dropped += chunk.length;
    if (dropped > DISCARD_MAX_BYTES) end();
  };
  const timer = setTimeout(end, DISCARD_MAX_MS);
  timer.unref();
  req.on('data', onData);
  req.once('end', end);
  res.once('close', end);
  req.resume();
}
