/**
 * A `tools/call` answer as an HTTP answer. Pure. The mapping (README, "Tools as plain HTTP"):
 * 200 structuredContent, or `{ content }`; 422 for arguments the server refused (-32602) or a result
 * with `isError` (SDK servers report schema-invalid arguments that way); 503 + Retry-After when the
 * server is gone; 504 when the proxy's request timeout ran out; 502 for any other JSON-RPC error.
 */
import { ProxyError, RpcCode } from '../../protocol/errors.ts';
import { isObject, type JsonRpcResponse } from '../../protocol/message.ts';

/** Every error status an operation may answer, with what it means (the document lists them). */
export const ERROR_STATUSES: Record<string, string> = {
  400: 'The body is not a JSON object.',
  401: 'No access key, or a wrong one.',
  404: 'No such tool here (unknown, or hidden by this server\'s tools filter).',
  422: 'The server refused the arguments, or the tool reported an error (isError).',
  502: 'The server answered with an error.',
  503: 'The server is unavailable (not started, restarting, exited).',
  504: 'The call ran past the request timeout.',
};

/** Retry-After on a 503: about one restart backoff of the supervisor. */
const RETRY_AFTER_S = '5';
const MAX_MESSAGE_CHARS = 2000;

export function answerOf(res: JsonRpcResponse): { status: 200; body: unknown } | ProxyError {
  if (res.error !== undefined) {
    const { code, message } = res.error;
    if (code === RpcCode.invalidParams) return new ProxyError(422, code, message);
    // -32000 is the Hub's own answer: the child exited or is not running, or the call timed out.
    if (code === RpcCode.serverError && /timed out/.test(message)) return new ProxyError(504, code, message);
    if (code === RpcCode.serverError) return new ProxyError(503, code, message, { headers: { 'retry-after': RETRY_AFTER_S } });
    return new ProxyError(502, code, message);
  }
  const result = isObject(res.result) ? res.result : {};
  const content = Array.isArray(result.content) ? result.content : [];
  if (result.isError === true) return new ProxyError(422, RpcCode.invalidParams, textOf(content), { data: { content } });
  if (isObject(result.structuredContent)) return { status: 200, body: result.structuredContent };
  return { status: 200, body: { content } };
}

/** The text blocks of a tool error, joined (bounded: it becomes the error message). */
function textOf(content: unknown[]): string {
  const text = content.flatMap((block) => (isObject(block) && typeof block.text === 'string' ? [block.text] : [])).join('\n');
  return (text === '' ? 'the tool reported an error' : text).slice(0, MAX_MESSAGE_CHARS);
}
