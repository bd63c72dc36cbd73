/**
 * Which MCP era the wrapped stdio server speaks (MCP-ERAS §2): a `server/discover` probe on a
 * disposable sibling process, so a legacy server that crashes on a request before `initialize` costs
 * nothing; the real child is started afterwards. Any reply but a usable DiscoverResult, a crash or
 * silence means legacy; only -32022 naming a modern version we serve earns one corrective re-probe.
 */
import { spawn } from 'node:child_process';
import { LineFramer } from './framer.ts';
import { invalidReason, isObject, isResponse, type JsonObject, type JsonRpcMessage, type JsonRpcRequest, type JsonRpcResponse } from '../protocol/message.ts';
import type { Logger } from '../observe/log.ts';
import { MODERN_VERSIONS } from '../protocol/versions.ts';
import { RpcCode } from '../protocol/errors.ts';
import { CLIENT_CAPABILITIES_KEY, CLIENT_INFO_KEY, PROTOCOL_VERSION_KEY } from '../protocol/meta-keys.ts';

export type UpstreamEra = { era: 'legacy' } | { era: 'modern'; version: string; discover: JsonObject };

export type ProbeVerdict =
  | { kind: 'modern'; version: string; discover: JsonObject }
  | { kind: 'retry'; version: string }
  | { kind: 'legacy'; reason: string };

export interface DetectOptions {
  command: string;
  args: string[];
  cwd?: string | undefined;
  env: NodeJS.ProcessEnv;
  /** How long the probe waits for its answer; silence that long means legacy. */
  timeoutMs: number;
  log: Logger;
  /** Our own version, sent as clientInfo. */
  clientVersion?: string;
}

export const PROBE_ID = 'server-discover-probe-1';
const RETRY_PROBE_ID = 'server-discover-probe-2';
const MAX_PROBE_LINE_BYTES = 16 * 1024 * 1024;
/** How long the probe process gets after stdin EOF + SIGTERM before SIGKILL. */
const PROBE_STOP_GRACE_MS = 2000;

/** The newest version both sides speak, or undefined. ISO dates compare correctly as strings. */
function newestShared(offered: unknown, served: readonly string[]): string | undefined {
  if (!Array.isArray(offered)) return undefined;
  const shared = offered.filter((v): v is string => typeof v === 'string' && served.includes(v));
  return shared.sort().at(-1);
}

/**
 * Classifies the reply to a `server/discover` probe (the SDK's probeClassifier, stdio rows).
 * Pure; `served` are the modern versions the proxy speaks.
 */
export function classifyProbeReply(reply: JsonRpcResponse, served: readonly string[] = MODERN_VERSIONS): ProbeVerdict {
  if (reply.error !== undefined) {
    const { code, data } = reply.error;
    if (code !== RpcCode.unsupportedProtocolVersion) return { kind: 'legacy', reason: `discover answered error ${code}` };
    const supported = isObject(data) ? data.supported : undefined;
    const version = newestShared(supported, served);
    if (version !== undefined) return { kind: 'retry', version };
    return { kind: 'legacy', reason: '-32022 without a modern version we serve' };
  }
  const result = reply.result;
  if (!isObject(result) || !Array.isArray(result.supportedVersions) || !isObject(result.capabilities)) {
    return { kind: 'legacy', reason: 'discover result is not a DiscoverResult' };
  }
  if (result.resultType !== undefined && result.resultType !== 'complete') {
    return { kind: 'legacy', reason: `discover resultType ${String(result.resultType)}` };
  }
  const version = newestShared(result.supportedVersions, served);
  if (version === undefined) return { kind: 'legacy', reason: 'no modern version in common' };
  return { kind: 'modern', version, discover: result };
}

export function discoverRequest(id: string, version: string, clientVersion: string): JsonRpcRequest {
  return {
    jsonrpc: '2.0', id, method: 'server/discover',
    params: {
      _meta: {
        [PROTOCOL_VERSION_KEY]: version,
        [CLIENT_INFO_KEY]: { name: 'mcpproxy', version: clientVersion },
        [CLIENT_CAPABILITIES_KEY]: {},
      },
    },
  };
}

/** Probes a sibling of the configured child and says which era it speaks; never rejects. */
export async function detectUpstreamProtocol(opts: DetectOptions): Promise<UpstreamEra> {
  const probe = new ProbeProcess(opts);
  try {
    const preferred = [...MODERN_VERSIONS].sort().at(-1)!;
    const clientVersion = opts.clientVersion ?? '0';
    let verdict = await probe.ask(discoverRequest(PROBE_ID, preferred, clientVersion), PROBE_ID);
    if (verdict.kind === 'retry') {
      opts.log.debug('discover probe: corrective re-probe', { version: verdict.version });
      verdict = await probe.ask(discoverRequest(RETRY_PROBE_ID, verdict.version, clientVersion), RETRY_PROBE_ID);
      if (verdict.kind === 'retry') verdict = { kind: 'legacy', reason: 'second -32022 after a corrective re-probe' };
    }
    if (verdict.kind === 'modern') return { era: 'modern', version: verdict.version, discover: verdict.discover };
    opts.log.debug('discover probe: legacy', { reason: verdict.reason });
    return { era: 'legacy' };
  } finally {
    await probe.stop();
  }
}

/** The disposable sibling: stdout framed, stderr discarded, its own process group, stopped whole. */
class ProbeProcess {
  #proc: ReturnType<typeof spawn>;
  #pid: number | undefined;
  #deadlineMs: number;
  #waiter: { id: string; resolve: (v: ProbeVerdict) => void } | undefined;
  #endReason: string | undefined;
  #exited: Promise<void>;

  constructor(opts: DetectOptions) {
    this.#deadlineMs = Date.now() + opts.timeoutMs;
    this.#proc = spawn(opts.command, opts.args, { env: opts.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'ignore'], detached: true, windowsHide: true });
    this.#pid = this.#proc.pid;
    this.#exited = new Promise((resolve) => {
      this.#proc.once('exit', () => resolve());
      this.#proc.once('error', () => { if (this.#pid === undefined) resolve(); });
    });
    const framer = new LineFramer(MAX_PROBE_LINE_BYTES, { line: (text) => this.#onLine(text), oversized: () => {} });
    this.#proc.stdout!.on('data', (chunk: Buffer) => framer.push(chunk));
    this.#proc.stdout!.on('error', () => {});
    this.#proc.stdin!.on('error', () => {});
    this.#proc.once('error', (err: NodeJS.ErrnoException) => this.#end(`could not be started: ${err.code ?? err.message}`));
    this.#proc.once('exit', (code, signal) => this.#end(`exited (${signal ?? code}) before answering`));
  }

  /** Sends `request` and waits for the reply with `id`, the process's end, or the deadline. */
  ask(request: JsonRpcMessage, id: string): Promise<ProbeVerdict> {
    if (this.#endReason !== undefined) return Promise.resolve({ kind: 'legacy', reason: this.#endReason });
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#settle({ kind: 'legacy', reason: 'no answer before the probe timeout' }), Math.max(0, this.#deadlineMs - Date.now()));
      this.#waiter = { id, resolve: (v) => { clearTimeout(timer); resolve(v); } };
      this.#proc.stdin!.write(JSON.stringify(request) + '\n');
    });
  }

  /** stdin EOF and SIGTERM to the group at once (the probe has no work worth finishing), SIGKILL after a grace. */
  async stop(): Promise<void> {
    this.#proc.stdin?.end();
    this.#signalGroup('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<boolean>((resolve) => { timer = setTimeout(resolve, PROBE_STOP_GRACE_MS, false); });
    const exited = await Promise.race([this.#exited.then(() => true), grace]);
    clearTimeout(timer);
    // The leader may be gone while grandchildren (npx → node) linger: the group gets SIGKILL either way.
    this.#signalGroup('SIGKILL');
    if (!exited) await Promise.race([this.#exited, new Promise((r) => setTimeout(r, PROBE_STOP_GRACE_MS).unref())]);
  }

  #signalGroup(signal: NodeJS.Signals): void {
    if (this.#pid === undefined) return;
    try {
      process.kill(-this.#pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  }

  #onLine(text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return; // non-JSON noise on stdout: skipped, as the SDK's reader does
    }
    if (invalidReason(value) !== undefined) return;
    const msg = value as JsonRpcMessage;
    if (!isResponse(msg) || this.#waiter === undefined || msg.id !== this.#waiter.id) return;
    this.#settle(classifyProbeReply(msg));
  }

  #end(reason: string): void {
    this.#endReason ??= reason;
    this.#settle({ kind: 'legacy', reason });
  }

  #settle(verdict: ProbeVerdict): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.resolve(verdict);
  }
}
