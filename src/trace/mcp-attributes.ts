/**
 * The OpenTelemetry MCP semantic conventions (semantic-conventions-genai v0.1.0, docs/gen-ai/mcp.md,
 * status Development): span names and attributes of a request or notification, `error.type` of its
 * answer. Pure. Names only: never arguments, results, tokens or environment values.
 */
import { isObject, type JsonRpcId, type JsonRpcResponse } from '../protocol/message.ts';
import type { Attributes } from './span.ts';

/** A name or URI longer than this is cut: an attribute is for finding, not for carrying data. */
const MAX_NAME_CHARS = 200;

const cut = (value: unknown): string | undefined => (typeof value === 'string' ? value.slice(0, MAX_NAME_CHARS) : undefined);

export interface McpOperation {
  /** `{mcp.method.name} {target}`: the tool or prompt name is the target; other methods are named alone. */
  spanName: string;
  attributes: Attributes;
}

/** What a request (`id` given) or notification says about itself under the conventions. */
export function mcpOperation(method: string, params: unknown, id: JsonRpcId | undefined): McpOperation {
  const attributes: Attributes = { 'mcp.method.name': method };
  if (id !== undefined && id !== null) attributes['jsonrpc.request.id'] = String(id);
  let target: string | undefined;
  if (isObject(params)) {
    if (method === 'tools/call') {
      target = cut(params.name);
      attributes['gen_ai.tool.name'] = target;
      attributes['gen_ai.operation.name'] = 'execute_tool';
    } else if (method === 'prompts/get') {
      target = cut(params.name);
      attributes['gen_ai.prompt.name'] = target;
    } else if (method.startsWith('resources/')) {
      // Conditionally required; not the span name's target (high cardinality).
      attributes['mcp.resource.uri'] = cut(params.uri);
    }
  }
  return { spanName: target === undefined ? method : `${method} ${target}`, attributes };
}

/**
 * The conventions' `error.type` of an answer: the JSON-RPC error code, or `tool_error` for a tool
 * result with `isError: true`; undefined for a success. `rpc.response.status_code` goes with a code.
 */
export function errorOf(res: JsonRpcResponse): { errorType: string; statusCode: string | undefined } | undefined {
  if (res.error !== undefined) {
    const code = String(res.error.code);
    return { errorType: code, statusCode: code };
  }
  if (isObject(res.result) && res.result.isError === true) return { errorType: 'tool_error', statusCode: undefined };
  return undefined;
}
