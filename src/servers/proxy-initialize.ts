/**
 * What the proxy declares when it, not a client, initializes a server: its stateless front and HTTP
 * tools on a shared child, and the aggregate's catalog of each member. It declares everything it can
 * relay, because the first handshake of a shared child is the one the child keeps for every session:
 * servers decide from it which tools to offer (server-everything lists its sampling and elicitation
 * tools only to a client that declared them) and a 2026-07-28 server reads it from each request's
 * envelope. A call whose client cannot answer gets that client's error.
 */
import { VERSION } from '../config/version.ts';
import { LATEST_LEGACY_VERSION } from '../protocol/versions.ts';

/**
 * What a client's first handshake with a shared child gets added: requests asked while serving one
 * call, which go back to that call's client. Not roots: a server applies roots to itself as a whole
 * (server-filesystem replaces its allowed directories with them), so on a shared child they stay what
 * the first client declared, never something any later client could set for everyone. Both modes of
 * elicitation: a URL one reaches a legacy client as is and a 2026-07-28 caller as `input_required`.
 */
export const PER_CALL_CAPABILITIES = { sampling: {}, elicitation: { form: {}, url: {} } };

export const PROXY_INITIALIZE = {
  protocolVersion: LATEST_LEGACY_VERSION,
  capabilities: { ...PER_CALL_CAPABILITIES, roots: {} },
  clientInfo: { name: 'mcpproxy', version: VERSION },
};
