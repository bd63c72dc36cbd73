// Runs inside the VM after mcpproxy.service is up: each check prints one "VMTEST PASS|FAIL <name>: <detail>" line.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const BASE = 'http://127.0.0.1:8000';
const KEY = readFileSync('/etc/mcpproxy/auth-key', 'utf8').trim();
const SERVICE_CGROUP = '/sys/fs/cgroup/system.slice/mcpproxy.service';
const auth = { authorization: `Bearer ${KEY}` };
let failures = 0;

function report(name, ok, detail) {
  if (!ok) failures++;
  console.log(`VMTEST ${ok ? 'PASS' : 'FAIL'} ${name}: ${detail}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** No wait without a deadline (generous: under TCG a throttled child forks slowly): a hung proxy is a failed check with its journal, not a VM timeout. */
const deadline = () => AbortSignal.timeout(240_000);

async function rpc(session, id, method, params) {
  const res = await fetch(`${BASE}/servers/hog/mcp`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(session ? { 'mcp-session-id': session } : {}) },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
    signal: deadline(),
  });
  const body = await res.text();
  if (!res.ok) console.log(`VMTEST INFO ${method} → HTTP ${res.status}: ${body.slice(0, 300)}`);
  // JSON, or SSE whose data lines carry the reply.
  const json = body.startsWith('{') ? body : body.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).pop();
  return { session: res.headers.get('mcp-session-id') ?? session, reply: json === undefined ? { raw: body } : JSON.parse(json) };
}

async function open() {
  const { session } = await rpc(undefined, 0, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'vmtest', version: '1' } });
  await fetch(`${BASE}/servers/hog/mcp`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': session }, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), signal: deadline() });
  return session;
}

const callTool = async (session, id, name, args) => (await rpc(session, id, 'tools/call', { name, arguments: args })).reply;

function childCgroups() {
  try {
    return readdirSync(SERVICE_CGROUP).filter((name) => name.startsWith('mcpproxy-'));
  } catch {
    return [];
  }
}

async function waitReady() {
  for (let i = 0; i < 180; i++) {
    try {
      if ((await fetch(`${BASE}/readyz`, { signal: deadline() })).status === 200) return true;
    } catch {
      // not listening yet
    }
    await sleep(1000);
  }
  return false;
}

const journalTail = () => execFileSync('journalctl', ['-u', 'mcpproxy', '--no-pager', '-n', '40', '-o', 'cat'], { encoding: 'utf8' });

try {
  await checks();
} catch (err) {
  report('checks ran', false, `${err.stack}\ncause: ${err.cause?.stack ?? '-'}\n${journalTail()}`);
}
console.log(`VMTEST DONE failures=${failures}`);

async function checks() {
  if (!(await waitReady())) {
    report('ready', false, journalTail());
  } else {
    const journal = execFileSync('journalctl', ['-u', 'mcpproxy', '--no-pager', '-o', 'cat'], { encoding: 'utf8' });
    console.log(`VMTEST INFO ${journal.split('\n').find((l) => l.includes(' sandbox ')) ?? 'no sandbox line'}`);
    let session = await open();

    const [cgroup] = childCgroups();
    const cpuStat = () => Object.fromEntries(readFileSync(`${SERVICE_CGROUP}/${cgroup}/cpu.stat`, 'utf8').trim().split('\n').map((l) => l.split(' ')).map(([k, v]) => [k, Number(v)]));
    const before = cpuStat();
    const startedMs = Date.now();
    const spun = await callTool(session, 1, 'spin', { ms: 4000 });
    if (spun.result === undefined) throw new Error(`spin: ${JSON.stringify(spun)}`);
    const after = cpuStat();
    const share = (after.usage_usec - before.usage_usec) / 1000 / (Date.now() - startedMs);
    report('cpu.max throttles', after.nr_throttled > before.nr_throttled && share < 0.6,
      `cpu.max=${readFileSync(`${SERVICE_CGROUP}/${cgroup}/cpu.max`, 'utf8').trim()} used ${share.toFixed(2)} CPU over the spin, nr_throttled +${after.nr_throttled - before.nr_throttled}`);

    const forked = await callTool(session, 2, 'fork', { count: 40 });
    const counts = JSON.parse(forked.result?.content?.[0]?.text ?? '{}');
    report('pids.max holds', counts.started < 32 && counts.failed > 0, `pids.max=${readFileSync(`${SERVICE_CGROUP}/${cgroup}/pids.max`, 'utf8').trim()}, 40 asked: ${JSON.stringify(counts)}`);

    const hog = await callTool(session, 3, 'hog', { mib: 300 });
    const message = hog.error?.message ?? JSON.stringify(hog);
    report('memory breach reaches the client', /server hog was stopped: memory limit 64 MiB exceeded/.test(message), message);
    const metrics = await (await fetch(`${BASE}/metrics`, { headers: auth, signal: deadline() })).text();
    const line = metrics.split('\n').find((l) => l.startsWith('mcpproxy_child_limit_breaches_total')) ?? '(none)';
    report('breach counted', /limit="memory"\} 1/.test(line), line);

    await waitReady();
    session = await open();
    await callTool(session, 4, 'fork', { count: 5 });
    const sandboxed = () => execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).split('\n').filter((l) => /sleep 60|hog-server|bwrap|mcpproxy/.test(l));
    const running = sandboxed().length;
    execFileSync('systemctl', ['stop', 'mcpproxy']);
    const left = sandboxed();
    report('stop leaves no process', left.length === 0 && running > 0, `${running} sandbox processes before stop, after: ${left.length === 0 ? 'none' : left.join(' | ')}`);
  }
}
