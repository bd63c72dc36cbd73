/**
 * Which era and which transport a remote server speaks. A `server/discover` POST with the 2026-07-28
 * headers tells a stateless server (MCP-ERAS §2's verdicts, as for a stdio child); a Streamable HTTP
 * server of an older era answers it with an error or a 4xx. When the member's `type` is not given, a
 * 4xx is followed by the spec's backwards-compatibility check: a GET expecting the 2024-11-05
 * `endpoint` event; if one comes, the server speaks legacy SSE. An unreachable server is retried with
 * backoff until it answers or the member is stopped, so its era is never guessed.
 */
import type { Logger } from '../../observe/log.ts';
import { isResponse, type JsonRpcMessage, type JsonRpcRequest } from '../../protocol/message.ts';
import { MODERN_VERSIONS } from '../../protocol/versions.ts';
import { classifyProbeReply, discoverRequest, PROBE_ID, RETRY_PROBE_ID, type ProbeVerdict, type UpstreamEra } from '../era-probe.ts';
import { isEventStream, readAnswer, readEventStream } from './answer.ts';
import { call, discard, RemoteError, type RemoteTarget } from './http-call.ts';
import { modernHeaders } from './stateless-client.ts';

export type RemoteKind = 'streamable' | 'sse';
/** `http` and `streamable-http` are one transport; undefined: inferred. */
export type RemoteType = 'http' | 'sse' | undefined;

export interface RemoteProbeOptions {
  target: RemoteTarget;
  type: RemoteType;
  upstreamProtocol: 'auto' | 'legacy' | 'modern';
  clientVersion: string;
  maxMessageBytes: number;
  log: Logger;
  /** Aborted when the member stops: the retries end. */
  signal: AbortSignal;
  /** Told each time the server cannot be reached, with why, so callers can fail fast meanwhile. */
  onUnreachable?(reason: string): void;
}

export type RemoteVerdict = UpstreamEra & { kind: RemoteKind };

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;

/** Probes until the server answers; rejects only when stopped, or when `modern` was required and it is not. */
export async function detectRemoteProtocol(opts: RemoteProbeOptions): Promise<RemoteVerdict> {
  let waitMs = FIRST_RETRY_MS;
  for (;;) {
    try {
      const verdict = await probeOnce(opts);
      if (opts.upstreamProtocol === 'modern' && verdict.era !== 'modern') {
        throw new Error('upstream protocol modern: the remote server did not answer server/discover as a 2026-07-28 server');
      }
      return verdict;
    } catch (err) {
      if (!(err instanceof RemoteError) || opts.signal.aborted) throw err;
      opts.log.warn('remote server not reachable, retrying', { url: opts.target.url.origin, error: err.message, inMs: waitMs });
      opts.onUnreachable?.(err.message);
    }
    await new Promise((resolve) => setTimeout(resolve, waitMs).unref());
    if (opts.signal.aborted) throw new Error('stopped');
    waitMs = Math.min(waitMs * 2, MAX_RETRY_MS);
  }
}

async function probeOnce(opts: RemoteProbeOptions): Promise<RemoteVerdict> {
  if (opts.type === 'sse') return { era: 'legacy', kind: 'sse' };
  if (opts.type === 'http' && opts.upstreamProtocol === 'legacy') return { era: 'legacy', kind: 'streamable' };
  const preferred = [...MODERN_VERSIONS].sort().at(-1)!;
  let { verdict, status } = await discover(opts, discoverRequest(PROBE_ID, preferred, opts.clientVersion), PROBE_ID);
  if (verdict.kind === 'retry') {
    ({ verdict, status } = await discover(opts, discoverRequest(RETRY_PROBE_ID, verdict.version, opts.clientVersion), RETRY_PROBE_ID));
  }
  if (verdict.kind === 'modern' && opts.upstreamProtocol !== 'legacy') {
    return { era: 'modern', version: verdict.version, discover: verdict.discover, kind: 'streamable' };
  }
  const kind: RemoteKind = opts.type === undefined && status >= 400 && (await offersSseEndpoint(opts)) ? 'sse' : 'streamable';
  opts.log.debug('remote probe: legacy', { kind, status, reason: verdict.kind === 'legacy' ? verdict.reason : 'legacy required' });
  return { era: 'legacy', kind };
}

/** POSTs one discover request; a network failure or 5xx rejects with a RemoteError (retried). */
async function discover(opts: RemoteProbeOptions, request: JsonRpcRequest, id: string): Promise<{ verdict: ProbeVerdict; status: number }> {
  const res = await call(opts.target, { method: 'POST', headers: modernHeaders(request), body: JSON.stringify(request), signal: opts.signal });
  const status = res.statusCode!;
  if (status >= 500) {
    discard(res);
    throw new RemoteError(`answered HTTP ${status}`);
  }
  let verdict: ProbeVerdict = { kind: 'legacy', reason: `discover answered HTTP ${status}` };
  const take = (msg: JsonRpcMessage): void => {
    if (isResponse(msg) && msg.id === id) verdict = classifyProbeReply(msg);
  };
  await readAnswer(res, opts.maxMessageBytes, take);
  return { verdict, status };
}

/** The 2024-11-05 fallback check: a GET whose stream opens with an `endpoint` event. */
async function offersSseEndpoint(opts: RemoteProbeOptions): Promise<boolean> {
  const res = await call(opts.target, { method: 'GET', headers: { accept: 'text/event-stream' }, signal: opts.signal }).catch(() => undefined);
  if (res === undefined) return false;
  if (res.statusCode !== 200 || !isEventStream(res)) {
    discard(res);
    return false;
  }
  return new Promise((resolve) => {
    void readEventStream(res, opts.maxMessageBytes, undefined, {
      message: () => {},
      endpoint: () => {
        resolve(true);
        res.destroy();
      },
    }).then(() => resolve(false));
    // A stream that sends nothing for the probe's bound is not an SSE server's.
    setTimeout(() => {
      resolve(false);
      res.destroy();
    }, opts.target.timeoutMs).unref();
  });
}
