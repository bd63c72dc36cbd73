// Remote member overhead: an inner mcpproxy serving the fixture, called directly by the client, and
// the same inner proxy behind a front mcpproxy whose servers file makes it a remote member three
// ways (Streamable HTTP session, legacy SSE, the 2026-07-28 stateless leg). Same tool, same run:
// what the front proxy's remote client path adds to a call.
import { makeAgent } from './client.ts';
import { StreamableSession } from './streamable-session.ts';
import { launch, type Running } from './peers.ts';
import { latency, newCounts, recordError, throughput, type OpenSession } from './phases.ts';
import type { Cell, Figures } from './report.ts';
import { waitListed, withServersFile } from './servers-file.ts';

export interface RemoteSettings {
  warmup: number;
  calls: number;
  /** Sessions of the replies/s phase. */
  remoteClients: number;
  durationMs: number;
}

const OPEN_TIMEOUT_MS = 10_000;

/** The client's paths to the inner proxy: directly, or through a front member of each kind. */
const PATHS = [
  { key: 'direct', label: 'client → inner mcpproxy directly' },
  { key: 'session', label: 'front → Streamable HTTP session member → inner' },
  { key: 'sse', label: 'front → legacy SSE member → inner' },
  { key: 'stateless', label: 'front → 2026-07-28 stateless member → inner' },
] as const;
type PathKey = typeof PATHS[number]['key'];

/** The front's servers file: the inner proxy as one member per kind (named for the PATHS keys). */
function members(inner: Running): Record<string, unknown> {
  return {
    session: { url: `${inner.baseUrl}/mcp`, type: 'http', upstreamProtocol: 'legacy' },
    sse: { url: `${inner.baseUrl}/sse`, type: 'sse' },
    stateless: { url: `${inner.baseUrl}/mcp`, upstreamProtocol: 'modern' },
  };
}

export function defineRemoteFigures(f: Figures, s: RemoteSettings): void {
  for (const { key, label } of PATHS) {
    f.add(`rmt-${key}-p50`, `remote member, ${label}: sequential call p50`, 'ms', 'lower', 'streamable');
    f.add(`rmt-${key}-tp`, `remote member, ${label}: correct replies/s, ${s.remoteClients} clients`, '1/s', 'higher', 'streamable');
    const whose = key === 'direct' ? 'inner' : 'front';
    f.add(`rmt-${key}-cpu`, `remote member, ${label}: CPU per sequential call (${whose} proxy)`, 'µs', 'lower', 'streamable');
  }
}

export const REMOTE_KEYS = PATHS.flatMap(({ key }) => [`rmt-${key}-p50`, `rmt-${key}-tp`, `rmt-${key}-cpu`]);

/** p50 and CPU per call (of `cpuPid`) from the latency phase, then replies/s; each row set as it is known. */
async function measurePath(f: Figures, s: RemoteSettings, key: PathKey, open: OpenSession, cpuPid: number): Promise<void> {
  const set = (what: string, cell: Cell) => f.set(`rmt-${key}-${what}`, 'streamable', 'mcpproxy', cell);
  try {
    const r = await latency(open, s.warmup, s.calls, 120_000, { cpuPid });
    set('p50', { value: r.p50Ms, counts: r.counts });
    set('cpu', { value: r.cpuUsPerCall, counts: r.counts });
    const tp = await throughput(open, s.remoteClients, s.durationMs, 60_000);
    set('tp', { value: tp.perSecond, counts: tp.counts });
  } catch (err) {
    const c = newCounts();
    recordError(c, `remote ${key}`, err);
    for (const what of ['p50', 'cpu', 'tp']) if (f.get(`rmt-${key}-${what}`, 'streamable')?.cells.mcpproxy === undefined) set(what, { value: NaN, counts: c });
  }
}

/** One inner proxy for the whole phase; the front starts once the direct path is measured. */
export async function runRemoteMember(f: Figures, s: RemoteSettings, notes: string[], progress: (msg: string) => void): Promise<void> {
  let inner: Running | undefined;
  const agent = makeAgent();
  const opener = (run: Running, mcpPath: string): OpenSession => () => StreamableSession.open(run.baseUrl, agent, OPEN_TIMEOUT_MS, mcpPath);
  try {
    inner = await launch('mcpproxy', 'streamable', { independent: false, fixedPort: false });
    progress(`remote member: ${PATHS[0].label}`);
    await measurePath(f, s, 'direct', opener(inner, '/mcp'), inner.pid);
    const innerRun = inner;
    await withServersFile(members(innerRun), 'remote members', notes, async (front) => {
      await waitListed(front, PATHS.length - 1);
      for (const { key, label } of PATHS.slice(1)) {
        progress(`remote member: ${label}`);
        await measurePath(f, s, key, opener(front, `/servers/${key}/mcp`), front.pid);
      }
    });
  } catch (err) {
    f.failUnset((key) => REMOTE_KEYS.includes(key), 'remote member', err);
  } finally {
    agent.destroy();
    const stop = await inner?.stop();
    if (stop !== undefined && stop.leftBehind.length > 0) notes.push(`inner mcpproxy (remote member phase) left ${stop.leftBehind.length} process(es) after SIGTERM`);
  }
}
