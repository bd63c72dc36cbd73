#!/usr/bin/env node
// A stdio MCP server for the VM test that misbehaves on request: `hog` holds memory, `spin` burns
// CPU, `fork` starts sleeping processes. Plain Node, no dependencies, one JSON-RPC message per line.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const send = (msg) => process.stdout.write(JSON.stringify(msg) + '\n');
const text = (id, value) => send({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: String(value) }] } });
const held = [];

function call(id, name, args) {
  if (name === 'hog') {
    // Touch every page: untouched allocations do not count against memory.max.
    for (let i = 0; i < Number(args.mib ?? 0); i++) held.push(Buffer.alloc(1024 * 1024, 1));
    return text(id, `holding ${held.length} MiB`);
  }
  if (name === 'spin') {
    const end = Date.now() + Number(args.ms ?? 0);
    let n = 0;
    while (Date.now() < end) n++;
    return text(id, n);
  }
  if (name === 'fork') {
    let started = 0;
    let failed = 0;
    const want = Number(args.count ?? 0);
    for (let i = 0; i < want; i++) {
      const child = spawn('sleep', ['60'], { stdio: 'ignore' });
      child.once('spawn', () => { started++; if (started + failed === want) text(id, JSON.stringify({ started, failed })); });
      child.once('error', () => { failed++; if (started + failed === want) text(id, JSON.stringify({ started, failed })); });
    }
    return undefined;
  }
  return send({ jsonrpc: '2.0', id, error: { code: -32602, message: `unknown tool ${name}` } });
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const msg = JSON.parse(line);
  if (msg.method === 'initialize') {
    return send({ jsonrpc: '2.0', id: msg.id, result: { protocolVersion: msg.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'hog', version: '1.0.0' } } });
  }
  if (msg.method === 'tools/list') return send({ jsonrpc: '2.0', id: msg.id, result: { tools: ['hog', 'spin', 'fork'].map((name) => ({ name, inputSchema: { type: 'object' } })) } });
  if (msg.method === 'tools/call') return call(msg.id, msg.params.name, msg.params.arguments ?? {});
  if (msg.id !== undefined && msg.method !== undefined) send({ jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'method not found' } });
});
