/**
 * Tools as plain HTTP for one endpoint: `GET openapi.json` (built from the live tool list), `POST
 * tools/<name>` (the tool called as a stateless caller would call it: the shared child through its
 * Hub, or the pooled child of the caller's allowed environment), and `GET docs`.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { VERSION } from '../../config/version.ts';
import { parseJson, readBody } from '../../http/body.ts';
import { sendJson } from '../../http/send-json.ts';
import { SseWriter } from '../../http/sse-writer.ts';
import { ProxyError, RpcCode } from '../../protocol/errors.ts';
import { isObject, type JsonObject } from '../../protocol/message.ts';
import type { StatelessSource, StatelessTarget } from '../../servers/contract.ts';
import type { Principal } from '../../identity/principal.ts';
import type { ProxyContext } from '../context.ts';
import { PROXY_INITIALIZE } from '../../servers/proxy-initialize.ts';
import { answerOf } from './answer.ts';
import { DOCS_HEADERS, DOCS_PAGE } from './docs-page.ts';
import { buildDocument } from './document.ts';
import type { Protection } from './security.ts';
import { sendRequest, type GateFor } from './request.ts';
import { KnownTools } from './tool-list.ts';

/** Distinct caller environments whose tool names are remembered (independent servers, one per environment). */
const MAX_KNOWN_ENVS = 256;

export class HttpTools {
  #ctx: ProxyContext;
  #source: StatelessSource;
  #title: string;
  #protection: Protection;
  #known = new KnownTools(MAX_KNOWN_ENVS);

  constructor(ctx: ProxyContext, source: StatelessSource, title: string, protection: Protection) {
    this.#ctx = ctx;
    this.#source = source;
    this.#title = title;
    this.#protection = protection;
  }

  /** The document, always from a fresh list: a client revalidates (no-cache) and gets 304 while nothing changed. */
  async document(req: IncomingMessage, res: ServerResponse, url: URL, principal: Principal): Promise<void> {
    const { target, envKey, gateFor } = await this.#target(req, url, principal);
    const tools = await this.#known.read(envKey, target, gateFor);
    const body = JSON.stringify(buildDocument(tools, {
      title: this.#title, version: VERSION, basePath: this.#ctx.basePath, protection: this.#protection, origin: this.#origin(req),
    }));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    const headers = { etag, 'cache-control': 'no-cache' };
    if (req.headers['if-none-match'] === etag) return void res.writeHead(304, headers).end();
    res.writeHead(200, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  }

  /** The origin clients dial: --public-url when set, else the Host this request came to (plain HTTP), if it is a host. */
  #origin(req: IncomingMessage): string | undefined {
    const configured = this.#ctx.identity.authenticator.resource?.publicUrl;
    if (configured !== undefined) return configured;
    const host = req.headers.host;
    return host !== undefined && /^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/.test(host) ? `http://${host}` : undefined;
  }

  docs(res: ServerResponse): void {
    res.writeHead(200, DOCS_HEADERS).end(DOCS_PAGE);
  }

  /** Calls `name` with the body as its arguments; JSON, or SSE (progress, then the result) when asked for. */
  async call(req: IncomingMessage, res: ServerResponse, url: URL, name: string, principal: Principal): Promise<void> {
    const raw = await readBody(req, this.#ctx.config.maxBodyBytes);
    // An empty body is a call without arguments (`curl -X POST`), not a malformed one.
    const args = raw.length === 0 ? {} : parseJson(raw);
    if (!isObject(args)) throw new ProxyError(400, RpcCode.invalidParams, 'the body must be a JSON object: the tool arguments');
    const { target, envKey, gateFor } = await this.#target(req, url, principal);
    // A name not seen yet may be new: read the list once more before saying 404.
    if (!this.#known.has(envKey, name) && !(await this.#known.read(envKey, target, gateFor)).some((tool) => tool.name === name)) {
      throw new ProxyError(404, RpcCode.invalidParams, `Unknown tool: ${name.slice(0, 100)}`);
    }
    const params = { name, arguments: args };
    if ((req.headers.accept ?? '').includes('text/event-stream')) return this.#stream(res, target, gateFor, params);
    const pending = sendRequest(target, gateFor, 'tools/call', params);
    res.once('close', () => pending.cancel('the HTTP caller left'));
    const answer = answerOf(await pending.reply);
    if (answer instanceof ProxyError) throw answer;
    sendJson(res, 200, answer.body);
  }

  #stream(res: ServerResponse, target: StatelessTarget, gateFor: GateFor, params: JsonObject): Promise<void> {
    // Through the gate before the stream opens: a refusal is still a plain HTTP error.
    const pending = sendRequest(target, gateFor, 'tools/call', params, (progress) => writer.send(JSON.stringify(progress), 'progress'));
    const writer = new SseWriter(res, this.#ctx.config.maxStreamBufferBytes);
    this.#ctx.heartbeat.add(writer);
    writer.onClose(() => pending.cancel('the HTTP caller left'));
    return pending.reply.then((reply) => {
      const answer = answerOf(reply);
      if (answer instanceof ProxyError) {
        const error: JsonObject = { code: answer.rpcCode, message: answer.message };
        if (answer.data !== undefined) error.data = answer.data;
        writer.send(JSON.stringify({ status: answer.status, error }), 'error');
      } else {
        writer.send(JSON.stringify(answer.body), 'result');
      }
      writer.end();
    });
  }

  /**
   * The target serving this caller (its allowed environment, variables from its token's claims, its
   * principal), initialized (the proxy's own handshake if no client made one), and its gate.
   */
  async #target(req: IncomingMessage, url: URL, principal: Principal): Promise<{ target: StatelessTarget; envKey: string; gateFor: GateFor }> {
    const env = this.#ctx.identity.callerEnv(this.#ctx.requestEnv.extract(req, url), principal);
    const target = this.#source.get(env, principal.id);
    await target.initializeResult(PROXY_INITIALIZE);
    const gateFor: GateFor = (sessionId) => this.#ctx.gated.gateFor(sessionId, principal, 'stateless');
    return { target, envKey: JSON.stringify([principal.id, Object.entries(env).sort()]), gateFor };
  }
}
