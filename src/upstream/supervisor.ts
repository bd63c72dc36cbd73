/**
 * Keeps the shared child running: restarts it after it exits with exponential backoff (0.5 s doubling
 * to 30 s, back to 0.5 s after a minute of health), so a crash costs clients one error, not their sessions.
 */
import { Child, describeExit, type ChildExit, type ChildOptions } from './child.ts';
import { Liveness } from './liveness.ts';
import type { Usage } from './sandbox/usage.ts';
import type { JsonRpcMessage } from '../protocol/message.ts';

export interface SupervisorEvents {
  message(msg: JsonRpcMessage): void;
  /** A child process is running and accepts input. */
  up(isRestart: boolean): void;
  /** The child is gone; `reason` says how ("exited with code 1"); `exit.breach` names a sandbox limit it hit. */
  down(reason: string, exit: ChildExit): void;
  /** The running child started or stopped answering (`notAnswering` changed). */
  answering(): void;
}

const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
const HEALTHY_AFTER_MS = 60_000;

export class Supervisor {
  #opts: ChildOptions;
  #events: SupervisorEvents;
  #child: Child | undefined;
  #state: 'running' | 'stopped' = 'running';
  #backoffMs = FIRST_BACKOFF_MS;
  #restartTimer: NodeJS.Timeout | undefined;
  #healthyTimer: NodeJS.Timeout | undefined;
  #downReason: string | undefined = 'starting';
  /** Whether the running child answers (pinged when silent); replaced with each child. */
  #liveness: Liveness | undefined;
  /** The last exited child's stderr lines, until a new one has written its own. */
  #lastTail: string[] = [];

  #canPing: () => boolean;

  /** `canPing`: whether the child speaks legacy MCP now, where a bare `ping` is always allowed (liveness.ts). */
  constructor(opts: ChildOptions, events: SupervisorEvents, canPing: () => boolean) {
    this.#opts = opts;
    this.#events = events;
    this.#canPing = canPing;
    this.#spawn(false);
  }

  get pid(): number | undefined {
    return this.isRunning ? this.#child?.pid : undefined;
  }

  get isRunning(): boolean {
    return this.#downReason === undefined;
  }

  /** Why no child is serving, or undefined while one is. */
  get downReason(): string | undefined {
    return this.#downReason;
  }

  /** Why the running child does not count as answering (not answered yet, a ping unanswered), or undefined. */
  get notAnswering(): string | undefined {
    return this.isRunning ? this.#liveness?.notReadyReason() : undefined;
  }

  /** The last lines the child (or the last one to exit) wrote to stderr, secrets masked. */
  get stderrTail(): string[] {
    const tail = this.#child?.stderrTail() ?? [];
    return tail.length > 0 ? tail : this.#lastTail;
  }

  /** The running child's CPU seconds and memory. */
  usage(): Usage | undefined {
    return this.isRunning ? this.#child?.usage() : undefined;
  }

  send(msg: JsonRpcMessage): boolean {
    return this.#child?.send(msg) ?? false;
  }

  async stop(): Promise<void> {
    this.#state = 'stopped';
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#healthyTimer);
    this.#liveness?.close();
    await this.#child?.stop();
  }

  #spawn(isRestart: boolean): void {
    const child = new Child(this.#opts, {
      message: (msg) => {
        if (this.#child === child && this.#liveness?.heard(msg) === true) return; // a liveness ping's answer
        this.#events.message(msg);
      },
      exit: (exit) => this.#exited(child, exit),
    });
    this.#child = child;
    // From the spawn on: not ready until the child's first answer (its owner asks it at once).
    this.#liveness = new Liveness({ send: (msg) => child.send(msg), changed: () => this.#events.answering(), canPing: this.#canPing });
    void child.spawned.then((failed) => {
      if (failed !== undefined || this.#child !== child) return;
      this.#downReason = undefined;
      this.#healthyTimer = setTimeout(() => { this.#backoffMs = FIRST_BACKOFF_MS; }, HEALTHY_AFTER_MS);
      this.#healthyTimer.unref();
      this.#events.up(isRestart);
    });
  }

  #exited(child: Child, exit: ChildExit): void {
    if (this.#child !== child) return;
    clearTimeout(this.#healthyTimer);
    this.#liveness?.close();
    this.#liveness = undefined;
    this.#lastTail = exit.stderrTail ?? [];
    this.#downReason = `child ${describeExit(exit)}`;
    this.#events.down(this.#downReason, exit);
    if (this.#state === 'stopped') return;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, MAX_BACKOFF_MS);
    this.#opts.log.warn('restarting child', { inMs: delay });
    this.#restartTimer = setTimeout(() => this.#spawn(true), delay);
    this.#restartTimer.unref();
  }
}
