/** One MCP server as the proxy runs it: from the single-command flags or from an entry of the config file. */
import type { EnvAllowList } from './env-policy.ts';
import type { SandboxSpec } from '../upstream/sandbox/options.ts';

export type UpstreamProtocol = 'auto' | 'legacy' | 'modern';
export type Lifecycle = 'eager' | 'lazy';
/** Independent mode: a child per client session, or one per principal for all its sessions and stateless calls. */
export type ChildPer = 'session' | 'principal';

/** Glob lists over tool, prompt and resource names (`*`, `?`); deny wins over allow. */
export interface NameFilter {
  allow: string[];
  deny: string[];
}

export interface ServerSpec {
  /** `^[a-z][a-z0-9-]{0,23}$`; the single-command form's server is `default`. */
  name: string;
  isDisabled: boolean;
  command: string;
  args: string[];
  /** Fixed variables for every child of this server (servers/child-env.ts says what else a child gets). */
  env: Record<string, string>;
  /** `--env-passthrough`: names of the proxy's environment every child also gets, verbatim. */
  envPassthrough: string[];
  cwd: string | undefined;
  shared: boolean;
  /** Independent mode only (`--child-per`, or the entry's `childPer`); a shared server ignores it. */
  childPer: ChildPer;
  /** Identical children of a shared server (a pool); 1: one child. */
  replicas: number;
  allowEnv: EnvAllowList;
  upstreamProtocol: UpstreamProtocol;
  requestTimeoutMs: number;
  /** 0: unlimited. */
  maxSessions: number;
  filter: NameFilter | undefined;
  /** Namespace in the aggregate: `<prefix>__<tool>`; '' keeps the member's names as they are. */
  prefix: string;
  lifecycle: Lifecycle;
  /** Lazy servers stop after this long with nothing in flight; 0 never. */
  idleTimeoutMs: number;
  /** Limits and isolation for this server's children (docs/SANDBOX.md). */
  sandbox: SandboxSpec;
  /** Set for a remote member (an entry with `url`); `command` is then empty. */
  remote?: RemoteSpec;
}

/** How to reach a remote MCP server. */
export interface RemoteSpec {
  /** An http: or https: URL. */
  url: string;
  /** `http` (Streamable HTTP) or `sse` (2024-11-05); undefined: inferred by probing. */
  type: 'http' | 'sse' | undefined;
  /** Sent on every request, `${VAR}` already expanded; values are secrets in the log. */
  headers: Record<string, string>;
  /** A PEM file of private CAs to verify the server with (verification is never off). */
  caFile: string | undefined;
  /** Lower-case request headers a client may pass on to its own upstream session (independent mode). */
  forwardHeaders: string[];
}

export const SERVER_NAME_RE = /^[a-z][a-z0-9-]{0,23}$/;
export const DEFAULT_SERVER_NAME = 'default';

/** Whether a reload must restart the server: anything that changes how its children run or what it shows. */
export function isSameSpec(a: ServerSpec, b: ServerSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
