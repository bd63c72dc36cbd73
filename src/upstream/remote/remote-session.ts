/**
 * One remote connection for one client session (independent mode), with the face of a per-session
 * Child: `spawned` once connected, `exit` when lost. It never reconnects: like a child that exited,
 * its end ends the client's session, and the client's next session connects afresh.
 */
import type { ChildEvents, ChildExit } from '../child.ts';
import type { JsonRpcMessage } from '../../protocol/message.ts';
import { lostReason, openTransport, type RemoteOptions } from './remote-upstream.ts';
import type { RemoteTransport } from './transport.ts';

export class RemoteSession {
  /** A remote session runs no process here. */
  readonly pid: number | undefined = undefined;
  #transport: RemoteTransport;
  #spawned: Promise<ChildExit | undefined>;
  #state: 'connecting' | 'open' | 'closed' = 'connecting';

  constructor(opts: RemoteOptions, events: ChildEvents) {
    const exit = (reason: string): ChildExit => ({ code: null, signal: null, lost: lostReason(opts.name, reason) });
    this.#transport = openTransport(opts, {
      message: (msg) => events.message(msg),
      lost: (reason) => {
        if (this.#state !== 'open') return;
        this.#state = 'closed';
        events.exit(exit(reason));
      },
    });
    this.#spawned = this.#transport.connect().then(
      () => {
        if (this.#state === 'connecting') this.#state = 'open';
        return undefined;
      },
      (err: Error) => exit(err.message),
    );
  }

  /** Resolves undefined once connected, or with why not. */
  get spawned(): Promise<ChildExit | undefined> {
    return this.#spawned;
  }

  /** No process here, so nothing to measure. */
  usage(): undefined {
    return undefined;
  }

  send(msg: JsonRpcMessage): boolean {
    return this.#state === 'open' && this.#transport.send(msg);
  }

  /** Ends the remote session (DELETE where the transport has one). */
  async stop(): Promise<void> {
    this.#state = 'closed';
    await this.#transport.close();
  }
}
