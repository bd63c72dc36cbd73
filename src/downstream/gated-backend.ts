/**
 * The backend as the transports' sessions see it: each session opened by a principal, its messages
 * through that session's gate (tool rules, audit), its child keyed by the principal when the server
 * runs one per principal.
 */
import type { Principal } from '../identity/principal.ts';
import type { JsonRpcMessage } from '../protocol/message.ts';
import type { Backend, ClientLink } from '../servers/contract.ts';
import { gatedLink, passInbound, SessionGate, type GateDeps } from './session-gate.ts';
import type { TransportName } from './sessions.ts';

export class GatedBackend {
  #inner: Backend;
  #deps: GateDeps;
  #sessions = new Map<string, { gate: SessionGate; link: ClientLink }>();

  constructor(inner: Backend, deps: GateDeps) {
    this.#inner = inner;
    this.#deps = deps;
  }

  /** A gate for a caller without a session of its own (a stateless call). */
  gateFor(callId: string, principal: Principal, transport: TransportName): SessionGate {
    return new SessionGate(this.#deps, callId, principal, transport);
  }

  async open(sessionId: string, link: ClientLink, env: Record<string, string>, scope: string[] | undefined, principal: Principal, transport: TransportName): Promise<void> {
    const gate = new SessionGate(this.#deps, sessionId, principal, transport);
    this.#sessions.set(sessionId, { gate, link });
    try {
      await this.#inner.open(sessionId, gatedLink(gate, link), env, scope, principal.id);
    } catch (err) {
      this.#sessions.delete(sessionId);
      throw err;
    }
  }

  /** A client message; may throw a ProxyError 403 (step-up) before anything reaches the server. */
  receive(sessionId: string, msg: JsonRpcMessage): void {
    const session = this.#sessions.get(sessionId);
    if (session === undefined) return;
    passInbound(session.gate, session.link, msg, (forwarded) => this.#inner.receive(sessionId, forwarded));
  }

  close(sessionId: string): void {
    this.#sessions.get(sessionId)?.gate.end();
    this.#sessions.delete(sessionId);
    this.#inner.close(sessionId);
  }
}
