/**
 * Result shapes between eras: what a legacy child's answers need before a 2026-07-28 client accepts
 * them (resultType, cache hints, serverInfo; retired error codes), and server/discover built from a
 * legacy InitializeResult. Pure.
 */
import { RpcCode } from '../../protocol/errors.ts';
import { isObject, type JsonObject, type JsonRpcErrorObject } from '../../protocol/message.ts';
import { MODERN_VERSIONS } from '../../protocol/versions.ts';
import { SERVER_INFO_KEY } from '../../protocol/meta-keys.ts';

/** Results a modern client may cache: they carry ttlMs and cacheScope. */
const CACHEABLE = new Set(['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'resources/read', 'server/discover']);
/**
 * A shared child's lists can change at any time and may differ per user in independent mode, so the
 * proxy promises nothing: no caching beyond this caller.
 */
const TTL_MS = 0;
const CACHE_SCOPE = 'private';
/** Resource not found: -32002 in 2025, -32602 in 2026-07-28. */
const RETIRED_RESOURCE_NOT_FOUND = -32002;

function withoutTasks(capabilities: unknown): JsonObject {
  if (!isObject(capabilities)) return {};
  const { tasks: _tasks, ...rest } = capabilities;
  return rest;
}

/** Adds what 2026-07-28 requires of every result; `serverInfo` is the child's. */
export function shapeResult(method: string, result: unknown, serverInfo: unknown): JsonObject {
  const shaped: JsonObject = isObject(result) ? { ...result } : {};
  if (shaped.resultType === undefined) shaped.resultType = 'complete';
  if (CACHEABLE.has(method)) {
    if (shaped.ttlMs === undefined) shaped.ttlMs = TTL_MS;
    if (shaped.cacheScope === undefined) shaped.cacheScope = CACHE_SCOPE;
  }
  if (method === 'tools/list' && Array.isArray(shaped.tools)) {
    // `execution` (task support) belongs to 2025-11-25 tasks, which 2026-07-28 moved to an extension.
    shaped.tools = shaped.tools.map((tool) => {
      if (!isObject(tool) || !('execution' in tool)) return tool;
      const { execution: _execution, ...rest } = tool;
      return rest;
    });
  }
  if (serverInfo !== undefined) {
    const meta = isObject(shaped._meta) ? { ...shaped._meta } : {};
    meta[SERVER_INFO_KEY] = serverInfo;
    shaped._meta = meta;
  }
  return shaped;
}

export function mapError(error: JsonRpcErrorObject): JsonRpcErrorObject {
  return error.code === RETIRED_RESOURCE_NOT_FOUND ? { ...error, code: RpcCode.invalidParams } : error;
}

/** server/discover answered for a legacy child from its InitializeResult. */
export function discoverFromInitialize(init: JsonObject): JsonObject {
  const result: JsonObject = {
    resultType: 'complete',
    supportedVersions: [...MODERN_VERSIONS],
    capabilities: withoutTasks(init.capabilities),
    _meta: { [SERVER_INFO_KEY]: init.serverInfo },
    ttlMs: TTL_MS,
    cacheScope: CACHE_SCOPE,
  };
  if (typeof init.instructions === 'string') result.instructions = init.instructions;
  return result;
}
