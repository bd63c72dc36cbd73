// The benchmark's floor: the least a Streamable HTTP → stdio proxy can do per call, and nothing
// else. Read the POST body, JSON.parse it, rewrite its id, write one line to one shared child, read
// the child's line, parse it, restore the id, answer application/json. No SSE, no limits, no
// resumability, no logging: mcpproxy's CPU per call is compared with this one's.
//
//   node bench/floor-proxy.mjs --port 0 [--detached] -- node test/fixtures/fault-server.mjs
//
// Plain JavaScript so it runs on any Node (the bench starts it on the runtime the mcpproxy binary
// embeds) without a build or a loader. Prints `listening host=… port=<n>` on stderr when ready.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';

const args = process.argv.slice(2);
const dashes = args.indexOf('--');
const portAt = args.indexOf('--port');
if (dashes === -1 || dashes === args.length - 1 || portAt === -1) {
  process.stderr.write('usage: floor-proxy.mjs --port N [--host H] [--detached] -- command [args...]\n');
  process.exit(2);
}
const port = Number(args[portAt + 1]);
const hostAt = args.indexOf('--host');
const host = hostAt === -1 ? '127.0.0.1' : args[hostAt + 1];
const [cmd, ...cmdArgs] = args.slice(dashes + 1);

// --detached: the child in its own session and process group, as a proxy that stops the child's
// whole group must start it (Node offers setsid only); off by default, the floor does not stop groups.
const child = spawn(cmd, cmdArgs, { stdio: ['pipe', 'pipe', 'inherit'], detached: args.slice(0, dashes).includes('--detached') });
child.once('exit', (code, signal) => {
  process.stderr.write(`floor: child exited code=${code} signal=${signal}\n`);
  process.exit(1);
});

/** upstreamId → the response waiting for it and the id its client sent. */
const pending = new Map();
const sessions = new Set();
let nextUpstreamId = 1;

function answer(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(body);
}

// Framing on bytes: a reply can arrive in several chunks, or several replies in one.
let parts = [];
child.stdout.on('data', (chunk) => {
  let start = 0;
  for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
    parts.push(chunk.subarray(start, nl));
    const line = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    parts = [];
    start = nl + 1;
    onChildLine(line);
  }
  if (start < chunk.length) parts.push(chunk.subarray(start));
});

function onChildLine(line) {
  let msg;
  try {
    msg = JSON.parse(line.toString('utf8'));
  } catch {
    return;
  }
  const waiting = typeof msg.id === 'number' ? pending.get(msg.id) : undefined;
  if (waiting === undefined) return; // a notification or a request from the child: not for the floor
  pending.delete(msg.id);
  msg.id = waiting.clientId;
  answer(waiting.res, 200, JSON.stringify(msg), waiting.headers);
}

function onMessage(req, res, body) {
  let msg;
  try {
    msg = JSON.parse(body.toString('utf8'));
  } catch {
    return answer(res, 400, '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}');
  }
  let headers;
  if (msg.method === 'initialize') {
    const sessionId = randomUUID();
    sessions.add(sessionId);
    headers = { 'mcp-session-id': sessionId };
  } else if (!sessions.has(req.headers['mcp-session-id'])) {
    return answer(res, 404, '{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"unknown session"}}');
  }
  if (msg.id === undefined) {
    child.stdin.write(JSON.stringify(msg) + '\n');
    return res.writeHead(202).end();
  }
  const upstreamId = nextUpstreamId++;
  pending.set(upstreamId, { res, clientId: msg.id, headers });
  msg.id = upstreamId;
  child.stdin.write(JSON.stringify(msg) + '\n');
}

const server = http.createServer((req, res) => {
  if (req.url !== '/mcp') return answer(res, 404, '{}');
  if (req.method === 'DELETE') {
    sessions.delete(req.headers['mcp-session-id']);
    return res.writeHead(200).end();
  }
  if (req.method !== 'POST') return answer(res, 405, '{}');
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => onMessage(req, res, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
});
server.listen(port, host, () => process.stderr.write(`floor: listening host=${host} port=${server.address().port}\n`));
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  child.stdin.end();
  child.removeAllListeners('exit');
  child.once('exit', () => process.exit(0));
});
