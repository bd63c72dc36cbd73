// npm run bench [-- --quick] [--only mcpproxy,supergateway,mcp-proxy] [--json FILE]
//
// Measures mcpproxy against supergateway and mcp-proxy, a direct stdio baseline and a minimal
// Streamable HTTP proxy (bench/floor-proxy.mjs, the floor of CPU per call), all in front of
// test/fixtures/fault-server.mjs and all driven by the same lean client (bench/client.ts; the runs per
// target are in bench/peer-runs.ts, what a run measures and for how long in bench/settings.ts); then
// mcpproxy with a servers file (bench/multi-server.ts), a replica pool at 1/2/4 replicas
// (bench/replicas.ts), an mcpproxy in front of another as its remote member (bench/remote-member.ts),
// a quiet principal beside a rate-limited flooder (bench/rate-limit.ts) and the call path with a
// console viewer attached (bench/console-cost.ts).
// --quick is a CI smoke check: every figure must be produced and no reply of mcpproxy or the
// baseline may be wrong; it never asserts a timing.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { TARGET_NAMES, TRANSPORTS, floorNode, mcpproxyBin, mcpproxyBuilt, supports, type TargetName } from './peers.ts';
import { clockTicksPerS, killEverything, sleep } from './processes.ts';
import { Figures, machineMeta, problemDetails, renderMarkdown, toJson, type Column, type Figure } from './report.ts';
import { MULTI_KEYS, defineMultiFigures, runMultiServer } from './multi-server.ts';
import { defineReplicaFigures, replicaKeys, runReplicas } from './replicas.ts';
import { REMOTE_KEYS, defineRemoteFigures, runRemoteMember } from './remote-member.ts';
import { defineFairnessFigures, runFairness } from './rate-limit.ts';
import { defineConsoleFigures, runConsoleCost } from './console-cost.ts';
import { defineTracingFigures, runTracingCost } from './tracing-cost.ts';
import { FULL, QUICK, type Settings } from './settings.ts';
import { progress, runDirect, runShared, runIdle, runIndependent, runExec, runHttpTools } from './peer-runs.ts';

function usage(): never {
  process.stderr.write('usage: node --import tsx bench/run.ts [--quick] [--only NAME[,NAME]] [--json FILE]\n' +
    `  NAME: ${TARGET_NAMES.join(', ')} (the direct stdio baseline and the floor always run)\n`);
  process.exit(2);
}

// ---- figures ------------------------------------------------------------------------------------

function defineFigures(s: Settings): Figures {
  const f = new Figures();
  for (const t of TRANSPORTS) {
    f.add('p50', 'sequential call p50', 'ms', 'lower', t);
    f.add('p99', 'sequential call p99', 'ms', 'lower', t);
    f.add('cpu', 'CPU per sequential call (proxy process)', 'µs', 'lower', t);
  }
  for (const n of s.clients) for (const t of TRANSPORTS) f.add(`tp${n}`, `correct replies/s, ${n} clients`, '1/s', 'higher', t);
  const mib = s.bigBytes / 2 ** 20;
  for (const t of TRANSPORTS) f.add('big', `one ${mib} MiB reply`, 'ms', 'lower', t);
  f.add('rss0', 'proxy RSS, no session', 'MiB', 'lower', 'sse');
  for (const n of s.idleSteps) f.add(`rss${n}`, `proxy RSS, ${n.toLocaleString('en-US')} idle sessions`, 'MiB', 'lower', 'sse');
  for (const t of TRANSPORTS) f.add('indep', 'independent mode: session open → first reply', 'ms', 'lower', t);
  for (const t of TRANSPORTS) f.add('exec', 'exec → first served request', 'ms', 'lower', t);
  defineMultiFigures(f, s);
  defineReplicaFigures(f, s);
  defineRemoteFigures(f, s);
  defineFairnessFigures(f, s);
  defineConsoleFigures(f);
  defineTracingFigures(f);
  f.add('tools-p50', 'POST /tools/echo (OpenAPI facade) sequential p50', 'ms', 'lower');
  f.add(`tools-tp${s.clients[0]}`, `POST /tools/echo correct replies/s, ${s.clients[0]} clients`, '1/s', 'higher');
  return f;
}

// ---- main ---------------------------------------------------------------------------------------

/**
 * Cells no phase wrote: a target not selected is 'not run', a figure a target has no mode for is
 * 'n/a'. The floor's CPU per call is copied into the route and aggregate CPU rows: the least work a
 * call needs is the same whichever path mcpproxy takes.
 */
function markAbsent(f: Figures, s: Settings, targets: TargetName[]): void {
  const configOnly = [...MULTI_KEYS, ...replicaKeys(s), ...REMOTE_KEYS];
  const floorCpu = f.get('cpu', 'streamable')?.cells.floor;
  if (floorCpu !== undefined) for (const key of ['routeCpu', 'aggCpu']) f.set(key, 'streamable', 'floor', floorCpu);
  for (const fig of f.list) {
    for (const name of TARGET_NAMES) {
      if (!targets.includes(name)) fig.cells[name] = { note: 'not run' };
    }
    for (const col of ['direct', 'floor', 'supergateway', 'mcp-proxy'] as const) {
      if (fig.cells[col] === undefined) fig.cells[col] = { note: configOnly.includes(fig.key) ? 'n/a (one server)' : 'n/a' };
    }
  }
}

function standingNotes(s: Settings, targets: TargetName[]): string[] {
  const notes = [
    'direct = the fixture on a pipe, no HTTP: the child\'s own cost. Its throughput rows are one child shared by ' +
      'all clients; its independent/exec rows are spawn → first reply.',
    `floor = bench/floor-proxy.mjs on ${floorNode() === process.execPath ? `this Node (${process.version})` : floorNode()}: ` +
      'read the POST body, parse, rewrite the id, one line to one shared child, read its line, parse, restore the id, ' +
      'answer application/json. Streamable HTTP only. "mcpproxy vs floor" is mcpproxy ÷ floor.',
    'CPU per sequential call = the proxy process\'s own utime+stime (/proc/<pid>/stat, all its threads, not its ' +
      'children) over the timed calls of the latency phase, ÷ those calls; resolution one clock tick ' +
      `(${1000 / clockTicksPerS()} ms) over the whole phase. The route and aggregate CPU rows repeat the floor's ` +
      'Streamable HTTP figure as their floor.',
    'Multi-server rows: mcpproxy --config with a servers file of fixture entries (fault, fault-2, …); lazy: none ' +
      'started (checked in /status); eager: after every member is listed, aggregate tools/list on /mcp, then the ' +
      'same echo on /servers/fault/mcp (echo) and on /mcp (fault__echo), in one proxy process.',
    `Replica rows: one shared member with replicas: N running the fixture's block tool (${s.blockMs} ms, the whole ` +
      `child waits without CPU, so it serves one call at a time); ${s.replicaClients} sessions on /servers/pool/mcp ` +
      `call it in a loop for ${s.replicaDurationMs} ms; a reply is right only if it carries the call's own text. ` +
      'A CPU-bound tool would cap near 2× on 2 cores, whatever N.',
    'Remote member rows: an inner mcpproxy (--shared, the fixture) called directly, then through a front ' +
      'mcpproxy --config whose members are that inner proxy over Streamable HTTP (session), legacy SSE and ' +
      '2026-07-28 stateless; CPU is the front\'s (the inner\'s on the direct row).',
    `Rate-limit rows: mcpproxy --shared --auth-keys-file (principals quiet and flooder) --rate-limit ${s.fairLimitPerS}/s. ` +
      `The quiet principal pauses ${s.fairGapMs} ms before each call, so it asks at most ${Math.round(1000 / s.fairGapMs)}/s and never ` +
      `meets its own limit; it is timed alone, then while bench/flooder.ts (its own process) runs ${s.floodClients} sessions ` +
      'calling echo flat out, ignoring Retry-After. Every quiet call must be admitted and right (any 429 would count as an error).',
    'Console rows: one mcpproxy --shared, the same sequential echo with nobody watching, then with GET /status/stream ' +
      '(the console page\'s live feed) held open and read by the bench; ratios are watched ÷ unwatched.',
  ];
  if (targets.includes('supergateway')) {
    notes.push('supergateway runs with --logLevel none (its default logs every message body); its Streamable HTTP ' +
      'mode is --stateful, which spawns one child per session (stateless spawns one per request). Its CPU row ' +
      'counts the gateway process only, not the `sh -c` and fixture children it spawns.');
  }
  return notes;
}

/** Quick mode's assertion: mcpproxy and the baselines produced every figure they have, with no bad reply. */
function quickFailures(figs: Figure[], targets: TargetName[]): string[] {
  const out: string[] = [];
  const cols: Column[] = ['direct', 'floor', ...targets.filter((t) => t === 'mcpproxy')];
  for (const fig of figs) {
    for (const col of cols) {
      const cell = fig.cells[col];
      if (cell?.value === undefined && cell?.note?.startsWith('n/a') === true) continue; // no such figure for it
      if (col === 'direct' && fig.key.startsWith('rss')) continue;
      const where = `${col} ${fig.transport ?? ''} ${fig.key}`;
      if (cell?.value === undefined || !Number.isFinite(cell.value)) out.push(`${where}: no figure`);
      const c = cell?.counts;
      if (c !== undefined && (c.wrong > 0 || c.errors > 0 || c.strays > 0)) {
        out.push(`${where}: wrong=${c.wrong} errors=${c.errors} strays=${c.strays} ${c.examples.join(' | ')}`);
      }
    }
  }
  return out;
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ options: { quick: { type: 'boolean' }, only: { type: 'string' }, json: { type: 'string' }, help: { type: 'boolean' } } });
  } catch {
    usage();
  }
  const { values } = parsed;
  if (values.help === true) usage();
  const only = values.only?.split(',').map((x) => x.trim()).filter((x) => x !== '' && x !== 'direct');
  for (const name of only ?? []) if (!TARGET_NAMES.includes(name as TargetName)) usage();
  const targets = TARGET_NAMES.filter((t) => only === undefined || only.includes(t));
  const quick = values.quick === true;
  const s = quick ? QUICK : FULL;

  const watchdog = setTimeout(() => {
    process.stderr.write(`[bench] watchdog: not done in ${s.watchdogMs} ms, killing everything\n`);
    killEverything();
    process.exit(1);
  }, s.watchdogMs);
  watchdog.unref();

  const f = defineFigures(s);
  const notes: string[] = [];
  const meta = machineMeta(quick ? 'quick' : 'full', {
    calls: s.calls, clients: s.clients.join('/'), durationMs: s.durationMs, bigBytes: s.bigBytes,
    idle: s.idleSteps.join('/'), independentReps: s.independentReps, execReps: s.execReps,
    replicas: s.replicaCounts.join('/'), replicaClients: s.replicaClients, blockMs: s.blockMs, replicaDurationMs: s.replicaDurationMs,
    fairCalls: s.fairCalls, fairGapMs: s.fairGapMs, rateLimit: `${s.fairLimitPerS}/s`, floodClients: s.floodClients, consoleCalls: s.consoleCalls,
  });

  await runDirect(f, s);
  for (const name of ['floor', ...targets] as const) {
    if (name === 'mcpproxy' && !supports('mcpproxy', 'sse', { independent: false, fixedPort: false })) {
      notes.push(`mcpproxy not measured: ${mcpproxyBin()} does not exist (npm run build)`);
      continue;
    }
    for (const transport of TRANSPORTS) {
      if (!supports(name, transport, { independent: false, fixedPort: false })) continue;
      await runShared(f, s, name, transport, notes);
      await sleep(300);
    }
    if (supports(name, 'sse', { independent: false, fixedPort: false })) await runIdle(f, s, name, notes);
    for (const transport of TRANSPORTS) await runIndependent(f, s, name, transport, notes);
    for (const transport of TRANSPORTS) {
      if (supports(name, transport, { independent: false, fixedPort: false })) await runExec(f, s, name, transport, notes);
    }
    if (name === 'mcpproxy' && mcpproxyBuilt()) {
      await runMultiServer(f, s, notes, progress);
      await runReplicas(f, s, notes, progress);
      await runRemoteMember(f, s, notes, progress);
      await runFairness(f, s, notes, progress);
      await runConsoleCost(f, s, notes, progress);
      await runTracingCost(f, s, notes, progress);
      await runHttpTools(f, s, notes);
    }
  }
  markAbsent(f, s, targets);
  notes.push(...standingNotes(s, targets));
  const md = renderMarkdown(f.list, meta, notes);
  process.stdout.write(`${md}\n`);
  const details = problemDetails(f.list);
  if (details.length > 0) process.stdout.write(`\nProblems seen:\n${details.map((d) => `- ${d}`).join('\n')}\n`);
  if (values.json !== undefined) writeFileSync(values.json, toJson(f.list, meta, [...notes, ...details]));

  if (!quick) return 0;
  const bad = quickFailures(f.list, targets);
  if (targets.includes('mcpproxy') && !supports('mcpproxy', 'sse', { independent: false, fixedPort: false })) {
    bad.push(`mcpproxy selected but ${mcpproxyBin()} does not exist`);
  }
  if (bad.length > 0) {
    process.stderr.write(`[bench] quick check FAILED:\n${bad.map((b) => `  ${b}`).join('\n')}\n`);
    return 1;
  }
  process.stderr.write('[bench] quick check passed: every figure produced, no wrong reply\n');
  return 0;
}

process.on('exit', () => killEverything());
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    process.stderr.write(`[bench] ${sig}: stopping every process started\n`);
    killEverything();
    process.exit(130);
  });
}

main().then(
  (code) => {
    killEverything();
    process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`[bench] failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    killEverything();
    process.exit(1);
  },
);
