/**
 * What the proxy declares when it, not a client, initializes a server: the aggregate's catalog of each
 * member, its stateless front and HTTP tools (SHARED_INITIALIZE on a shared stdio child, which has it
 * cached by then). It declares everything it can relay, because the first handshake of a shared child is
 * the one the child keeps for every session:
 * servers decide from it which tools to offer (server-everything lists its sampling and elicitation
 * tools only to a client that declared them) and a 2026-07-28 server reads it from each request's
 * envelope. A call whose client cannot answer gets that client's error.
 */
import { VERSION } from '../config/version.ts';
import { LATEST_LEGACY_VERSION } from '../protocol/versions.ts';

/**
 * What a shared child is told the proxy can relay: requests asked while serving one call, which go back
 * to that call's client. Both modes of elicitation: a URL one reaches a legacy client as is and a
 * 2026-07-28 caller as `input_required`. Not roots: a server applies roots to itself as a whole
 * (server-filesystem replaces its allowed directories with them), so one user's roots must not become
 * everyone's: a shared stdio child is never told of roots, a shared remote member only if its first
 * client declared them (this is added to that client's own capabilities).
 */
export const PER_CALL_CAPABILITIES = { sampling: {}, elicitation: { form: {}, url: {} } };

export const PROXY_INITIALIZE = {
  protocolVersion: LATEST_LEGACY_VERSION,
  capabilities: { ...PER_CALL_CAPABILITIES, roots: {} },
  clientInfo: { name: 'mcpproxy', version: VERSION },
};

/** A shared stdio child's first handshake, made by the proxy at its start (shared-backend.ts): no roots. */
export const SHARED_INITIALIZE = { ...PROXY_INITIALIZE, capabilities: PER_CALL_CAPABILITIES };
