/**
 * `Mcp-Param-{Name}` headers (2026-07-28): a tool argument whose schema property carries
 * `x-mcp-header: Name` is mirrored in that header, and a server must reject a request whose header
 * and body disagree (-32020). The proxy checks them for its stdio children (which have no headers)
 * and writes them toward a stateless remote. Pure: schemas, arguments and headers in, declarations,
 * headers or a ProxyError out.
 */
import { headerMismatch } from './errors.ts';
import { isObject, type JsonObject } from './message.ts';
import { decodeHeaderValue, encodeHeaderValue, type Headers } from './header-values.ts';

export interface ParamHeader {
  /** Property names from `arguments` down to the value. */
  path: string[];
  headerName: string;
  type: string | undefined;
}

/** The `x-mcp-header` declarations of a tool's inputSchema, on properties reachable through `properties` chains. */
export function paramHeadersOf(inputSchema: unknown): ParamHeader[] {
  const found: ParamHeader[] = [];
  const visit = (schema: unknown, path: string[]): void => {
    if (!isObject(schema)) return;
    const name = schema['x-mcp-header'];
    if (path.length > 0 && typeof name === 'string' && name !== '') {
      found.push({ path, headerName: name, type: typeof schema.type === 'string' ? schema.type : undefined });
    }
    if (isObject(schema.properties)) {
      for (const [key, child] of Object.entries(schema.properties)) visit(child, [...path, key]);
    }
  };
  visit(inputSchema, []);
  return found;
}

/** RFC 9110 `token`: what a header name may be made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** The property types a declaration may sit on (2026-07-28 names `number` as not allowed). */
const HEADER_TYPES = new Set(['string', 'integer', 'boolean']);
/** Schema keywords whose subschemas are not reached by a plain `properties` chain. */
const ONE_SCHEMA = ['items', 'additionalProperties', 'contains', 'not', 'if', 'then', 'else', 'propertyNames'];
const SCHEMA_LISTS = ['prefixItems', 'oneOf', 'anyOf', 'allOf'];
const SCHEMA_MAPS = ['$defs', 'definitions', 'patternProperties', 'dependentSchemas'];

/**
 * Why a tool's `x-mcp-header` declarations make the tool invalid, or undefined when they are fine. A
 * 2026-07-28 client drops such a tool from `tools/list`: a declaration must sit on a string, integer
 * or boolean property reached through `properties` alone, name an RFC 9110 token, and be unique
 * case-insensitively. Pure.
 */
export function paramHeaderFault(inputSchema: unknown): string | undefined {
  const seen = new Set<string>();
  const visit = (schema: unknown, path: string[], isReachable: boolean): string | undefined => {
    if (!isObject(schema)) return undefined;
    if ('x-mcp-header' in schema) {
      const where = path.length === 0 ? 'the schema root' : path.join('.');
      const name = schema['x-mcp-header'];
      if (!isReachable || path.length === 0) return `${where}: x-mcp-header is allowed only on a property reached through "properties"`;
      if (typeof name !== 'string' || !TOKEN.test(name)) return `${where}: x-mcp-header ${JSON.stringify(name)} is not a header name`;
      if (typeof schema.type !== 'string' || !HEADER_TYPES.has(schema.type)) return `${where}: x-mcp-header on a ${JSON.stringify(schema.type ?? null)} property (string, integer or boolean only)`;
      if (seen.has(name.toLowerCase())) return `${where}: x-mcp-header ${name} is declared twice`;
      seen.add(name.toLowerCase());
    }
    const children: Array<[unknown, string, boolean]> = [];
    if (isObject(schema.properties)) for (const [key, child] of Object.entries(schema.properties)) children.push([child, key, isReachable]);
    for (const key of ONE_SCHEMA) children.push([schema[key], key, false]);
    for (const key of SCHEMA_LISTS) if (Array.isArray(schema[key])) for (const child of schema[key]) children.push([child, key, false]);
    for (const key of SCHEMA_MAPS) if (isObject(schema[key])) for (const child of Object.values(schema[key])) children.push([child, key, false]);
    for (const [child, key, reachable] of children) {
      const fault = visit(child, [...path, key], reachable);
      if (fault !== undefined) return fault;
    }
    return undefined;
  };
  return visit(inputSchema, [], true);
}

function valueAt(root: unknown, path: string[]): unknown {
  let node = root;
  for (const key of path) node = isObject(node) ? node[key] : undefined;
  return node;
}

/**
 * How an argument value is written in its header (spec: strings as is, numbers in decimal, booleans
 * lowercase); undefined where no header is expected (absent, null, not a primitive, an integer past
 * 2^53 that decimal would not round-trip).
 */
function headerForm(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number' && Number.isFinite(value) && !(Number.isInteger(value) && !Number.isSafeInteger(value))) return String(value);
  return undefined;
}

/** The `Mcp-Param-*` headers (lower-case names) a call with `args` carries, values encoded for the wire. */
export function paramHeaderValues(declared: ParamHeader[], args: unknown): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const { path, headerName } of declared) {
    const value = headerForm(valueAt(args, path));
    if (value !== undefined) headers[`mcp-param-${headerName.toLowerCase()}`] = encodeHeaderValue(value);
  }
  return headers;
}

/** Throws 400 -32020 when a declared argument is present in the body but its header is missing or differs. */
export function checkParamHeaders(declared: ParamHeader[], args: unknown, headers: Headers): void {
  for (const { path, headerName, type } of declared) {
    const value = valueAt(args, path);
    const expected = headerForm(value);
    if (expected === undefined) continue; // absent or null: the header is not expected
    const raw = headers[`mcp-param-${headerName.toLowerCase()}`];
    if (typeof raw !== 'string') throw headerMismatch(`Mcp-Param-${headerName} header required for arguments.${path.join('.')}`);
    const decoded = decodeHeaderValue(raw);
    // Numbers compare numerically (42 and 42.0 are the same argument).
    const isEqual = (type === 'integer' || type === 'number') && typeof value === 'number' && /^-?\d+(\.\d+)?$/.test(decoded)
      ? Number(decoded) === value
      : decoded === expected;
    if (!isEqual) throw headerMismatch(`Mcp-Param-${headerName} differs from arguments.${path.join('.')}`);
  }
}

/** What the proxy knows of each tool's declarations, learnt from the tools/list results it relays. */
export class ParamHeaderRegistry {
  #byTool = new Map<string, ParamHeader[]>();
  /** Tools left out of lists for invalid declarations, with why. */
  #excluded = new Map<string, string>();
  #onExcluded: ((tool: string, why: string) => void) | undefined;

  /**
   * `onExcluded`, on the proxy's client side (toward a stateless remote): tools with invalid declarations
   * are taken out of the lists, as a 2026-07-28 client must, and it is told once per tool and fault.
   * Without it (the proxy as the server's front) lists pass whole and valid declarations are checked.
   */
  constructor(onExcluded?: (tool: string, why: string) => void) {
    this.#onExcluded = onExcluded;
  }

  /** Learns a tools/list result; on the client side, takes out of it (in place) the tools a client must drop. */
  learn(toolsListResult: unknown): void {
    if (!isObject(toolsListResult) || !Array.isArray(toolsListResult.tools)) return;
    const onExcluded = this.#onExcluded;
    toolsListResult.tools = toolsListResult.tools.filter((tool) => {
      if (!isObject(tool) || typeof tool.name !== 'string') return true;
      const fault = onExcluded === undefined ? undefined : paramHeaderFault(tool.inputSchema);
      if (fault !== undefined) {
        if (this.#excluded.get(tool.name) !== fault) onExcluded?.(tool.name, fault);
        this.#excluded.set(tool.name, fault);
        this.#byTool.delete(tool.name);
        return false;
      }
      this.#excluded.delete(tool.name);
      this.#byTool.set(tool.name, paramHeadersOf(tool.inputSchema));
      return true;
    });
  }

  /** Why a tool was left out of the lists, or undefined. */
  whyExcluded(tool: string): string | undefined {
    return this.#excluded.get(tool);
  }

  /** Whether a tools/list through the proxy has shown the tool (or left it out). */
  knows(tool: string): boolean {
    return this.#byTool.has(tool) || this.#excluded.has(tool);
  }

  /** Checks a tools/call; a tool never listed through the proxy has no known declarations. */
  check(params: JsonObject, headers: Headers): void {
    const declared = typeof params.name === 'string' ? this.#byTool.get(params.name) : undefined;
    if (declared !== undefined && declared.length > 0) checkParamHeaders(declared, params.arguments, headers);
  }

  /** The headers a tools/call carries (none for a tool with no known declarations). */
  headersFor(params: JsonObject): Record<string, string> {
    const declared = typeof params.name === 'string' ? this.#byTool.get(params.name) : undefined;
    return declared === undefined ? {} : paramHeaderValues(declared, params.arguments);
  }
}
