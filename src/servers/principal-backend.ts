/**
 * Independent mode with `--child-per principal`: one child per principal (and allowed environment),
 * shared by all of that principal's sessions and stateless calls, and never by anyone else. The children
 * are the stateless pool's, keyed by principal, so a user's sessions and stateless calls meet one child;
 * one idle past --session-idle-timeout is stopped by the pool.
 */
import type { Backend, ClientLink } from './contract.ts';
import type { ChildUsage } from './backend-deps.ts';
import type { SharedBackend } from './shared-backend.ts';
import type { StatelessPool } from './stateless-pool.ts';
import type { JsonRpcMessage } from '../protocol/message.ts';

export class PrincipalBackend implements Backend {
  #pool: StatelessPool;
  #bySession = new Map<string, SharedBackend>();

  constructor(pool: StatelessPool) {
    this.#pool = pool;
  }

  async open(sessionId: string, link: ClientLink, env: Record<string, string>, _scope?: string[], principalId = ''): Promise<void> {
    const backend = this.#pool.child(env, principalId);
    await backend.open(sessionId, link);
    this.#bySession.set(sessionId, backend);
  }

  receive(sessionId: string, msg: JsonRpcMessage): void {
    this.#bySession.get(sessionId)?.receive(sessionId, msg);
  }

  close(sessionId: string): void {
    const backend = this.#bySession.get(sessionId);
    this.#bySession.delete(sessionId);
    backend?.close(sessionId);
  }

  failPending(reason: string): void {
    this.#pool.failPending(reason);
  }

  notReadyReason(): string | undefined {
    return undefined;
  }

  get childCount(): number {
    return this.#pool.size;
  }

  get pendingCount(): number {
    return this.#pool.pendingCount;
  }

  get pids(): number[] {
    return this.#pool.pids;
  }

  get usage(): ChildUsage[] {
    return this.#pool.usage;
  }

  async stop(): Promise<void> {
    await this.#pool.stop();
  }
}
