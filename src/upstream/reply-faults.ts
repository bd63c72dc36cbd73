/**
 * What a child wrote that is not a JSON-RPC message it may send, turned into what its caller needs:
 * an error for the call it answers, at once, instead of a wait for --request-timeout. Pure.
 */
import { errorResponse, invalidReason, isObject, type JsonRpcId, type JsonRpcMessage } from '../protocol/message.ts';
import { RpcCode } from '../protocol/errors.ts';

/** What one parsed line from a child is: messages to route, and why anything in it was not routed. */
export interface ParsedLine {
  messages: JsonRpcMessage[];
  /** Why a part of the line was refused (for the log), when one was. */
  refused: string | undefined;
}

/**
 * A parsed line → the messages it carries. A batch (allowed by 2025-03-26) is unpacked. An invalid
 * reply whose id can be read (no `"jsonrpc"`, both `result` and `error`) becomes an error for that id;
 * an invalid request or notification is refused (the child waits on its own request, no caller does).
 */
export function messagesOfLine(value: unknown): ParsedLine {
  const items = Array.isArray(value) ? value : [value];
  const messages: JsonRpcMessage[] = [];
  let refused: string | undefined;
  for (const item of items) {
    const reason = Array.isArray(item) ? 'a batch inside a batch' : invalidReason(item);
    if (reason === undefined) {
      messages.push(item as JsonRpcMessage);
      continue;
    }
    refused ??= reason;
    const id = isObject(item) && !('method' in item) ? idOf(item.id) : undefined;
    if (id !== undefined) messages.push(errorResponse(id, RpcCode.internalError, `the server sent an invalid reply: ${reason}`));
  }
  return { messages, refused };
}

/** An error for the call whose reply was over the line cap. */
export function oversizedReply(id: JsonRpcId, bytes: number, maxBytes: number): JsonRpcMessage {
  return errorResponse(id, RpcCode.internalError, `the server's reply was ${bytes} bytes, over --max-message-bytes ${maxBytes}: dropped`);
}

function idOf(value: unknown): JsonRpcId | undefined {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)) ? value : undefined;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
/** Longer keys are not ones we look for; longer id values are not ids the proxy sent. */
const MAX_KEY_BYTES = 16;
const MAX_ID_BYTES = 256;

/**
 * Reads the top-level `id` and which of `method`, `result`, `error` a JSON object has, from its bytes
 * as they pass, holding O(1) memory: a reply too big to keep is still named by its id wherever the id
 * sits (the TypeScript SDK writes it last, Python's first).
 */
export class TopLevelScanner {
  #depth = 0;
  #isInString = false;
  #isEscaped = false;
  #isExpectingKey = false;
  #key: number[] | undefined;
  #lastKey = '';
  #idBytes: number[] | undefined;
  #id: string | undefined;
  #keys = new Set<string>();
  #isObject: boolean | undefined;

  push(bytes: Buffer): void {
    for (const byte of bytes) this.#byte(byte);
  }

  /** The id of the reply these bytes were, or undefined when they were not a reply with a readable id. */
  responseId(): JsonRpcId | undefined {
    if (this.#isObject !== true || this.#keys.has('method') || !(this.#keys.has('result') || this.#keys.has('error'))) return undefined;
    if (this.#id === undefined) return undefined;
    try {
      return idOf(JSON.parse(this.#id));
    } catch {
      return undefined;
    }
  }

  #byte(byte: number): void {
    if (this.#isObject === undefined) {
      if (byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0xef || byte === 0xbb || byte === 0xbf) return; // space, BOM
      this.#isObject = byte === 0x7b;
    }
    if (this.#isObject !== true) return;
    const atTop = this.#depth === 1;
    if (this.#isInString) {
      if (this.#key !== undefined && this.#key.length <= MAX_KEY_BYTES) this.#key.push(byte);
      if (this.#idBytes !== undefined) this.#capture(byte);
      if (this.#isEscaped) this.#isEscaped = false;
      else if (byte === BACKSLASH) this.#isEscaped = true;
      else if (byte === QUOTE) {
        this.#isInString = false;
        if (this.#key !== undefined) {
          this.#lastKey = this.#key.length > MAX_KEY_BYTES ? '' : Buffer.from(this.#key.slice(0, -1)).toString('utf8');
          this.#keys.add(this.#lastKey);
          this.#key = undefined;
        }
      }
      return;
    }
    switch (byte) {
      case QUOTE:
        this.#isInString = true;
        if (atTop && this.#isExpectingKey) this.#key = [];
        else if (this.#idBytes !== undefined) this.#capture(byte);
        return;
      case 0x7b: // {
      case 0x5b: // [
        if (this.#idBytes !== undefined && this.#depth === 1) this.#idBytes = undefined; // an object id: not one of ours
        this.#depth++;
        if (this.#depth === 1) this.#isExpectingKey = true;
        return;
      case 0x7d: // }
      case 0x5d: // ]
        if (atTop) this.#endValue();
        this.#depth--;
        return;
      case COLON:
        if (!atTop) return;
        this.#isExpectingKey = false;
        if (this.#lastKey === 'id') this.#idBytes = [];
        return;
      case COMMA:
        if (!atTop) return;
        this.#endValue();
        this.#isExpectingKey = true;
        return;
      default:
        if (this.#idBytes !== undefined && atTop) this.#capture(byte);
    }
  }

  #capture(byte: number): void {
    if (this.#idBytes!.length < MAX_ID_BYTES) this.#idBytes!.push(byte);
    else this.#idBytes = undefined;
  }

  #endValue(): void {
    if (this.#idBytes !== undefined) this.#id = Buffer.from(this.#idBytes).toString('utf8').trim();
    this.#idBytes = undefined;
    this.#lastKey = '';
  }
}
