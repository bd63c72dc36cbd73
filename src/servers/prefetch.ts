/**
 * `mcpproxy prefetch`: each configured server started once inside its own sandbox with the network on,
 * asked to initialize, then stopped. What npx or uvx fetch at start lands in the server's private home,
 * so a server with `network: off` later starts from a warm cache without any network.
 */
import type { Config } from '../config/config.ts';
import type { ServerSpec } from '../config/server-spec.ts';
import { VERSION } from '../config/version.ts';
import type { Logger } from '../observe/log.ts';
import { LATEST_LEGACY_VERSION } from '../protocol/versions.ts';
import { Child, describeExit } from '../upstream/child.ts';
import type { HostFacts } from '../upstream/sandbox/plan.ts';
import { childEnv } from './child-env.ts';
import { sandboxForServer } from './sandbox-setup.ts';

/** A first `npx -y` may download a few hundred packages. */
const PREFETCH_TIMEOUT_MS = 300_000;
const STOP_GRACE_MS = 2_000;
const REQUEST_ID = 'mcpproxy-prefetch';

/** Warms every enabled server in turn (one at a time: two npx runs race on one cache); true when all answered. */
export async function prefetch(config: Config, host: HostFacts | undefined, hidden: string[], log: Logger): Promise<boolean> {
  let isAllOk = true;
  for (const spec of config.servers) {
    if (spec.isDisabled) continue;
    const serverLog = log.child({ server: spec.name });
    const ok = await warm({ ...spec, sandbox: { ...spec.sandbox, network: 'on' } }, config, host, hidden, serverLog);
    isAllOk &&= ok;
  }
  return isAllOk;
}

async function warm(spec: ServerSpec, config: Config, host: HostFacts | undefined, hidden: string[], log: Logger): Promise<boolean> {
  const sandbox = sandboxForServer(spec, host, hidden, log);
  if (sandbox.fatal !== undefined) return false;
  const startedMs = Date.now();
  let answered: (outcome: string | undefined) => void = () => {};
  const outcome = new Promise<string | undefined>((resolve) => { answered = resolve; });
  const child = new Child({
    command: spec.command, args: spec.args, cwd: spec.cwd, env: childEnv(sandbox.run, spec, {}),
    maxMessageBytes: config.maxMessageBytes, maxStdinQueueBytes: config.maxMessageBytes, stopGraceMs: STOP_GRACE_MS, log, sandbox: sandbox.run,
  }, {
    // Any answer, even an error, means the server got as far as reading stdin: everything it fetches at start is cached.
    message: (msg) => { if ('id' in msg && msg.id === REQUEST_ID && !('method' in msg)) answered(undefined); },
    exit: (exit) => answered(`the server ${describeExit(exit)} before answering`),
  });
  const timer = setTimeout(() => answered(`no answer within ${PREFETCH_TIMEOUT_MS / 1000} s`), PREFETCH_TIMEOUT_MS);
  child.send({
    jsonrpc: '2.0', id: REQUEST_ID, method: 'initialize',
    params: { protocolVersion: LATEST_LEGACY_VERSION, capabilities: {}, clientInfo: { name: 'mcpproxy-prefetch', version: VERSION } },
  });
  const failure = await outcome;
  clearTimeout(timer);
  await child.stop();
  if (failure === undefined) log.info('prefetched', { ms: Date.now() - startedMs, home: sandbox.run?.home });
  else log.error('prefetch failed', { error: failure });
  return failure === undefined;
}
