/** How legacy and modern (2026-07-28) shapes map for the modern-child adapter. Pure. */
import { isObject, type JsonObject } from '../protocol/message.ts';
import { SERVER_INFO_KEY } from '../protocol/meta-keys.ts';

/** A legacy client's capabilities as a modern envelope carries them: no roots.listChanged, no tasks. */
export function legacyToModernCapabilities(capabilities: JsonObject): JsonObject {
  const modern = structuredClone(capabilities);
  delete modern.tasks;
  if (isObject(modern.roots)) delete modern.roots.listChanged;
  return modern;
}

/** A modern result as a legacy client sees it (the SDK's legacy projection): modern-only fields dropped. */
export function legacyResult(result: JsonObject): JsonObject {
  const legacy = { ...result };
  delete legacy.resultType;
  delete legacy.ttlMs;
  delete legacy.cacheScope;
  if (isObject(legacy._meta)) {
    const meta = { ...legacy._meta };
    delete meta[SERVER_INFO_KEY];
    if (Object.keys(meta).length > 0) legacy._meta = meta;
    else delete legacy._meta;
  }
  return legacy;
}
