/**
 * One aggregate session's connection to one member, opened on first use: a session on the member unit
 * (initialized with the client's own initialize params) or, for a 2026-07-28 caller, a stateless
 * attachment. Messages wait here while it opens; what the member says goes to the aggregate.
 */
import { RpcCode, type ProxyError } from '../../protocol/errors.ts';
import { errorResponse, isResponse, type JsonObject, type JsonRpcId, type JsonRpcMessage, type JsonRpcResponse } from '../../protocol/message.ts';
import type { ClientLink, StatelessTarget } from '../contract.ts';
import type { ServerUnit } from '../server-unit.ts';

export interface MemberSessionOwner {
  fromMember(server: string, msg: JsonRpcMessage, relatedId: JsonRpcId | undefined): void;
  /** The member session could not open or has ended; queued and in-flight calls are answered by the owner. */
  memberEnded(server: string, reason: string, unsent: JsonRpcMessage[]): void;
}

export interface MemberSessionOptions {
  sessionId: string;
  env: Record<string, string>;
  /** The aggregate session's principal, for a member that runs a child per principal. */
  principalId: string | undefined;
  isStateless: boolean;
  initParams: JsonObject;
  logLevel: string | undefined;
}

const INIT_ID = '~aggregate-init';
const OWN_ID = '~aggregate-own-';
/** Messages held while the member starts; past it the client is told the member is busy. */
const MAX_QUEUED = 1000;

export class MemberSession implements ClientLink {
  readonly isReconnectable = true;
  readonly server: string;
  readonly unit: ServerUnit;
  #owner: MemberSessionOwner;
  #opts: MemberSessionOptions;
  #target: StatelessTarget | ServerUnit | undefined;
  #queue: JsonRpcMessage[] | undefined = [];
  #state: 'opening' | 'open' | 'closed' = 'opening';
  #initialized: (() => void) | undefined;
  #own = new Map<string, (res: JsonRpcResponse) => void>();
  #nextOwnId = 1;

  constructor(unit: ServerUnit, owner: MemberSessionOwner, opts: MemberSessionOptions) {
    this.unit = unit;
    this.server = unit.spec.name;
    this.#owner = owner;
    this.#opts = opts;
    void this.#open();
  }

  get isOpen(): boolean {
    return this.#state !== 'closed';
  }

  send(msg: JsonRpcMessage): boolean {
    if (this.#state === 'closed') return false;
    if (this.#queue !== undefined) {
      if (this.#queue.length >= MAX_QUEUED) return false;
      this.#queue.push(msg);
      return true;
    }
    this.#target!.receive(this.#opts.sessionId, msg);
    return true;
  }

  /** A request of the aggregate's own (a session's personal lists); its answer is not the client's. */
  request(method: string, params: JsonObject): Promise<JsonRpcResponse> {
    const id = `${OWN_ID}${this.#nextOwnId++}`;
    return new Promise((resolve) => {
      this.#own.set(id, resolve);
      if (!this.send({ jsonrpc: '2.0', id, method, params })) {
        this.#own.delete(id);
        resolve(errorResponse(id, RpcCode.serverError, `server ${this.server} unavailable`));
      }
    });
  }

  deliver(msg: JsonRpcMessage, relatedId: JsonRpcId | undefined): void {
    const own = isResponse(msg) && typeof msg.id === 'string' ? this.#own.get(msg.id) : undefined;
    if (own !== undefined) {
      this.#own.delete((msg as JsonRpcResponse).id as string);
      return own(msg as JsonRpcResponse);
    }
    if (isResponse(msg) && msg.id === INIT_ID) {
      if (msg.error !== undefined) this.#fail(`initialize refused: ${msg.error.message}`);
      else this.#initialized?.();
      return;
    }
    this.#owner.fromMember(this.server, msg, relatedId);
  }

  end(reason: string): void {
    this.#fail(reason);
  }

  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#target?.close(this.#opts.sessionId);
  }

  async #open(): Promise<void> {
    const { sessionId, env, principalId, initParams } = this.#opts;
    try {
      if (this.#opts.isStateless) {
        const target = this.unit.get(env, principalId);
        await target.initializeResult(initParams);
        target.attachStateless(sessionId, this);
        this.#target = target;
      } else {
        await this.unit.open(sessionId, this, env, undefined, principalId);
        this.#target = this.unit;
        const initialized = new Promise<void>((resolve) => { this.#initialized = resolve; });
        this.unit.receive(sessionId, { jsonrpc: '2.0', id: INIT_ID, method: 'initialize', params: structuredClone(initParams) });
        await initialized;
        if (this.#state !== 'opening') return;
        this.unit.receive(sessionId, { jsonrpc: '2.0', method: 'notifications/initialized' });
        const level = this.#opts.logLevel;
        if (level !== undefined) this.unit.receive(sessionId, { jsonrpc: '2.0', id: `${INIT_ID}-level`, method: 'logging/setLevel', params: { level } });
      }
    } catch (err) {
      return this.#fail((err as ProxyError).message);
    }
    if (this.#state !== 'opening') return;
    this.#state = 'open';
    const queued = this.#queue ?? [];
    this.#queue = undefined;
    for (const msg of queued) this.#target!.receive(sessionId, msg);
  }

  #fail(reason: string): void {
    if (this.#state === 'closed') return;
    const unsent = this.#queue ?? [];
    this.#queue = undefined;
    this.close();
    this.#initialized?.();
    for (const [id, resolve] of this.#own) resolve(errorResponse(id, RpcCode.serverError, reason));
    this.#own.clear();
    this.#owner.memberEnded(this.server, reason, unsent);
  }
}
