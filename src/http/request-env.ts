/** The per-session environment a client asks for: query parameters and `X-MCP-Env: NAME=value` headers. */
import type { IncomingMessage } from 'node:http';
import { EnvInputError, parseEnvHeader, RESERVED_PARAMS, selectSessionEnv, type EnvAllowList } from '../config/env-policy.ts';
import { headersBesideVariables } from '../config/forwarded-headers.ts';
import { ProxyError, RpcCode } from '../protocol/errors.ts';
import type { Logger } from '../observe/log.ts';

export const ENV_HEADER = 'x-mcp-env';

/** Request headers clients may pass on to remote members (`forwardHeaders`). */
export interface HeaderForwarding {
  /**
   * Lower-case names, read per request (the aggregate's follow reloads). Their values travel in the
   * session's map beside its variables, keyed apart (config/forwarded-headers.ts): a remote member
   * takes its listed headers from it, a stdio child its variables.
   */
  names(): readonly string[];
}

/** Which variables a session may bring; a shared server takes none. */
export interface EnvPolicy {
  allow: EnvAllowList;
  isShared: boolean;
}

export class RequestEnv {
  #policy: () => EnvPolicy;
  #log: Logger;
  #hasWarnedShared = false;
  #forwarding: HeaderForwarding | undefined;

  /** `policy` is read per request: the aggregate's follows reloads that add, remove or change members. */
  constructor(policy: () => EnvPolicy, log: Logger, forwarding?: HeaderForwarding) {
    this.#policy = policy;
    this.#log = log;
    this.#forwarding = forwarding;
  }

  /**
   * The allowed variables (and forwarded headers) of a session-opening request (the backend masks their
   * values in logs). A malformed candidate is a 400; a disallowed name is dropped and logged by name only.
   */
  extract(req: IncomingMessage, url: URL): Record<string, string> {
    const forwarding = this.#forwarding;
    if (forwarding === undefined) return this.#variables(req, url);
    const headers = forwardedHeaders(req, forwarding.names());
    return { ...this.#variables(req, url), ...headersBesideVariables(headers) };
  }

  #variables(req: IncomingMessage, url: URL): Record<string, string> {
    const candidates: Array<[string, string]> = [];
    for (const [name, value] of url.searchParams) {
      if (!RESERVED_PARAMS.has(name)) candidates.push([name, value]);
    }
    try {
      for (const header of req.headersDistinct[ENV_HEADER] ?? []) {
        for (const item of splitCombined(header)) candidates.push(parseEnvHeader(item));
      }
      if (candidates.length === 0) return {};
      const { allow, isShared } = this.#policy();
      if (isShared) {
        if (!this.#hasWarnedShared) {
          this.#hasWarnedShared = true;
          this.#log.warn('per-session environment is ignored in shared mode (use --no-shared)', { names: candidates.map(([n]) => n).join(',') });
        }
        return {};
      }
      const { env, ignored } = selectSessionEnv(candidates, allow);
      if (ignored.length > 0) this.#log.warn('per-session variables not allowed, ignored', { names: ignored.join(',') });
      return env;
    } catch (err) {
      if (err instanceof EnvInputError) throw new ProxyError(400, RpcCode.invalidParams, `bad session environment: ${err.message}`);
      throw err;
    }
  }
}

/**
 * One `X-MCP-Env` line may carry several variables: fetch and some proxies join repeated header lines
 * with ", " (RFC 9110 5.3). A comma starts a new variable only when a `NAME=` follows it, so a value
 * may still hold commas (a value holding ", NAME=" is read as two variables).
 */
function splitCombined(header: string): string[] {
  return header.split(/,[ \t]*(?=[A-Za-z_][A-Za-z0-9_]*=)/);
}

/** The listed headers the request carries (lower-case names; repeated lines joined as RFC 9110 allows). */
function forwardedHeaders(req: IncomingMessage, names: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of names) {
    const values = req.headersDistinct[name];
    if (values !== undefined && values.length > 0) headers[name] = values.join(', ');
  }
  return headers;
}
