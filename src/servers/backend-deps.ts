/**
 * What both ways of serving sessions need: a server's dependencies, the child budget, a child's options,
 * the Hub's output wiring and the request-timeout sweep.
 */
import type { ParamHeaderRegistry } from '../protocol/param-headers.ts';
import type { ClientLink } from './contract.ts';
import type { ServerSpec } from '../config/server-spec.ts';
import type { ChildExit, ChildOptions } from '../upstream/child.ts';
import type { SandboxRun } from '../upstream/sandbox/launch.ts';
import type { HostFacts } from '../upstream/sandbox/plan.ts';
import { childEnv } from './child-env.ts';
import type { Usage } from '../upstream/sandbox/usage.ts';
import type { Config } from '../config/config.ts';
import { ProxyError, RpcCode } from '../protocol/errors.ts';
import type { JsonRpcMessage } from '../protocol/message.ts';
import { truncate, type Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { UpstreamEra } from '../upstream/era-probe.ts';
import type { EraMemory } from '../upstream/era-memory.ts';
import type { Hub, HubOutput } from '../routing/hub.ts';
import { UpstreamRoute } from '../upstream/upstream-route.ts';
import { VERSION } from '../config/version.ts';

const STOP_GRACE_MS = 2000;
const SWEEP_INTERVAL_MS = 1000;

export interface BackendDeps {
  config: Config;
  spec: ServerSpec;
  log: Logger;
  metrics: Metrics;
  /** A remote's protocol era, once its probe knows it; absent means legacy. */
  era?: Promise<UpstreamEra>;
  /** A stdio server's era as its children show it (detected on the first child's handshake, then kept); absent means legacy. */
  eras?: EraMemory | undefined;
  /** Children running across every server now; with --max-children, new per-session children past it are refused. */
  childTotal?: () => number;
  /** The host as probed once at start, and paths no child may see; units build their sandbox from it. */
  sandboxHost?: { facts: HostFacts; hidden: string[] } | undefined;
  /** This server's sandbox (plan, home); undefined runs children as they are. */
  sandbox?: SandboxRun | undefined;
  /** A remote member's tool declarations (Mcp-Param-* headers), one for all its connections and restarts. */
  paramHeaders?: ParamHeaderRegistry;
}

/** 503 when a new child would pass --max-children. */
export function checkChildBudget(deps: BackendDeps): void {
  const max = deps.config.maxChildren;
  if (max > 0 && deps.childTotal !== undefined && deps.childTotal() >= max) {
    throw new ProxyError(503, RpcCode.serverError, `too many child processes (--max-children ${max}); try again later`, { headers: { 'retry-after': '5' } });
  }
}

/** One running child's figures for /status and /metrics. */
export type ChildUsage = Usage & { pid: number };

/** A child stopped by a sandbox limit: its calls end naming the server and the limit, and the breach is counted. */
export function reportBreach(deps: BackendDeps, exit: ChildExit, hub: Hub): void {
  if (exit.breach === undefined) return;
  deps.metrics.childLimitBreached(deps.spec.name, exit.breach.limit);
  hub.failCalls(`server ${deps.spec.name} was stopped: ${exit.breach.message}`);
}

export const LEGACY: UpstreamEra = { era: 'legacy' };

/** The route a backend's Hub reaches its child through, detecting a stdio child's era on the child itself. */
export function upstreamRoute(deps: BackendDeps, log: Logger, toHub: (msg: JsonRpcMessage) => void): UpstreamRoute {
  return new UpstreamRoute(toHub, { memory: deps.spec.remote === undefined ? deps.eras : undefined, log, clientVersion: VERSION, now: Date.now, peer: deps.spec });
}

/** What a backend must wait for before it starts a child: a remote's era; the unit's start gate for a stdio child. */
export async function beforeStart(deps: BackendDeps): Promise<UpstreamEra | undefined> {
  if (deps.spec.remote !== undefined) return deps.era ?? LEGACY;
  if (deps.eras === undefined) return LEGACY;
  await deps.eras.mayStart();
  return undefined; // detected on the child
}

export function childOptions(deps: BackendDeps, sessionEnv: Record<string, string>): ChildOptions {
  const { config, spec, log } = deps;
  return {
    command: spec.command,
    args: spec.args,
    cwd: spec.cwd,
    env: childEnv(deps.sandbox, spec, sessionEnv),
    maxMessageBytes: config.maxMessageBytes,
    // Enough for a few maximum-size messages; past it the child is not reading and senders get an error.
    maxStdinQueueBytes: config.maxMessageBytes * 4,
    stopGraceMs: STOP_GRACE_MS,
    log,
    sandbox: deps.sandbox,
  };
}

export function hubOutput(deps: BackendDeps, links: Map<string, ClientLink>, toChild: (msg: JsonRpcMessage) => boolean): HubOutput {
  return {
    toChild,
    toSession: (sessionId, msg, relatedId) => links.get(sessionId)?.deliver(msg, relatedId),
    note: (event, fields) => deps.log.debug(event, fields),
    callDone: (method, outcome, ms, errorMessage) => {
      // A method name is the client's to choose and an error's text may quote it: both masked like a log line before anyone can read them.
      deps.metrics.requestDone(deps.spec.name, deps.log.redact(method), outcome, ms, errorMessage === undefined ? undefined : deps.log.redact(errorMessage));
      if (deps.log.isEnabled('debug')) deps.log.debug('request done', { server: deps.spec.name, method: truncate(method, 100), outcome, ms });
    },
  };
}

/** Runs `sweep` every second (unref'd): one timer for every request timeout, not one per request. */
export function startSweep(sweep: () => void): NodeJS.Timeout {
  const timer = setInterval(sweep, SWEEP_INTERVAL_MS);
  timer.unref();
  return timer;
}
