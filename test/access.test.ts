// The Origin/Host rules against DNS rebinding, as pure functions of the request's headers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { checkOrigin, type AccessPolicy } from '../src/http/access.ts';

const policy = (over: Partial<AccessPolicy>): AccessPolicy => ({ allowOrigins: [], corsOrigins: [], isLoopbackOnly: false, requiresCredentials: false, ...over });
const allowed = (p: AccessPolicy, host: string, origin?: string): boolean => {
  try {
    checkOrigin(p, { headers: origin === undefined ? { host } : { host, origin } } as IncomingMessage);
    return true;
  } catch {
    return false;
  }
};

test('same-origin counts where DNS rebinding cannot reach anything', () => {
  const open = policy({});
  // --no-auth on a LAN address: a page rebound to it has Origin and Host under the attacker's name.
  assert.equal(allowed(open, 'evil.example:8000', 'http://evil.example:8000'), false, 'a DNS name without credentials');
  assert.equal(allowed(open, '10.0.0.5:8000', 'http://10.0.0.5:8000'), true, 'an IP-literal Host involves no DNS');
  assert.equal(allowed(open, '[fd00::5]:8000', 'http://[fd00::5]:8000'), true, 'IPv6 literal too');
  assert.equal(allowed(open, 'proxy.lan:8000', 'http://proxy.lan:8000'), false, 'list it with --allow-origin instead');
  assert.equal(allowed(policy({ allowOrigins: ['http://proxy.lan:8000'] }), 'proxy.lan:8000', 'http://proxy.lan:8000'), true);
  // With a key required, the rebound page has no credential to send: its own name is fine.
  assert.equal(allowed(policy({ requiresCredentials: true }), 'mcp.example.com', 'https://mcp.example.com'), true);
  assert.equal(allowed(policy({ requiresCredentials: true }), 'mcp.example.com', 'https://other.example.com'), false, 'a foreign origin never');
  assert.equal(allowed(open, 'evil.example:8000'), true, 'no Origin: not a browser');
});

test('on loopback: loopback Host only, loopback origins on any port, foreign origins refused', () => {
  const local = policy({ isLoopbackOnly: true });
  assert.equal(allowed(local, '127.0.0.1:8000', 'http://localhost:6274'), true, 'MCP Inspector on another port');
  assert.equal(allowed(local, 'localhost:8000', 'http://localhost:8000'), true);
  assert.equal(allowed(local, 'evil.example:8000', 'http://evil.example:8000'), false, 'rebinding to 127.0.0.1 has a foreign Host');
  assert.equal(allowed(local, '127.0.0.1:8000', 'http://evil.example'), false);
  assert.equal(allowed(local, '127.0.0.1:8000', 'file://x'), false, 'only http(s) origins');
});
