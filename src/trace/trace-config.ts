/**
 * Tracing settings from flags and the standard OpenTelemetry variables: where spans go
 * (--otlp-endpoint, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT), with which headers
 * (OTEL_EXPORTER_OTLP_HEADERS, or --otlp-headers-file), as which service (OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES), sampled how (OTEL_TRACES_SAMPLER, _ARG), batched how (OTEL_BSP_*).
 * Pure but for reading the headers file through `readText`; a bad value throws TraceConfigError.
 */
import { buildSampler, SamplerError, type Sampler } from './sampler.ts';

export interface TraceRaw {
  otlpEndpoint?: string;
  otlpHeadersFile?: string;
  otelEnduser?: boolean;
}

export interface TraceConfig {
  url: URL;
  headers: Record<string, string>;
  /** --otlp-headers-file: a secret file, hidden from sandboxed children. */
  headersFile: string | undefined;
  /** Resource attributes, service.name included. */
  resource: Record<string, string>;
  sampler: Sampler;
  recordsEnduser: boolean;
  maxQueue: number;
  batchSize: number;
  delayMs: number;
  timeoutMs: number;
}

export class TraceConfigError extends Error {}

type Env = Record<string, string | undefined>;

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The settings, or undefined when no endpoint is configured (tracing off: nothing is recorded). */
export function buildTraceConfig(raw: TraceRaw, env: Env, readText: (path: string, flag: string) => string): TraceConfig | undefined {
  const url = endpointOf(raw.otlpEndpoint, env);
  if (url === undefined || env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true' || env.OTEL_TRACES_EXPORTER?.trim() === 'none') return undefined;
  const protocol = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) ?? nonEmpty(env.OTEL_EXPORTER_OTLP_PROTOCOL);
  if (protocol !== undefined && protocol !== 'http/protobuf') throw new TraceConfigError(`OTEL_EXPORTER_OTLP_PROTOCOL: ${protocol} is not supported; mcpproxy exports http/protobuf`);
  const headers = {
    ...keyValues('OTEL_EXPORTER_OTLP_HEADERS', env.OTEL_EXPORTER_OTLP_HEADERS),
    ...keyValues('OTEL_EXPORTER_OTLP_TRACES_HEADERS', env.OTEL_EXPORTER_OTLP_TRACES_HEADERS),
    ...(raw.otlpHeadersFile === undefined ? {} : headersFile(readText(raw.otlpHeadersFile, '--otlp-headers-file'), raw.otlpHeadersFile)),
  };
  for (const [name, value] of Object.entries(headers)) checkHeader('OTEL_EXPORTER_OTLP_HEADERS', name, value);
  const resource = keyValues('OTEL_RESOURCE_ATTRIBUTES', env.OTEL_RESOURCE_ATTRIBUTES);
  resource['service.name'] = nonEmpty(env.OTEL_SERVICE_NAME) ?? resource['service.name'] ?? 'mcpproxy';
  let sampler: Sampler;
  try {
    sampler = buildSampler(nonEmpty(env.OTEL_TRACES_SAMPLER), nonEmpty(env.OTEL_TRACES_SAMPLER_ARG));
  } catch (err) {
    if (err instanceof SamplerError) throw new TraceConfigError(err.message);
    throw err;
  }
  return {
    url, headers, headersFile: raw.otlpHeadersFile, resource, sampler, recordsEnduser: raw.otelEnduser === true,
    maxQueue: count(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 2048),
    batchSize: count(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512),
    delayMs: count(env, 'OTEL_BSP_SCHEDULE_DELAY', 5000),
    timeoutMs: count(env, nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT) === undefined ? 'OTEL_EXPORTER_OTLP_TIMEOUT' : 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 10_000),
  };
}

/**
 * The traces URL: --otlp-endpoint (a bare origin gets /v1/traces, a URL with a path is used as it is),
 * else OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is, else OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces.
 */
function endpointOf(flag: string | undefined, env: Env): URL | undefined {
  const traces = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const base = nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (flag !== undefined) {
    const url = parseUrl('--otlp-endpoint', flag);
    if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/traces';
    return url;
  }
  if (traces !== undefined) return parseUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', traces);
  if (base === undefined) return undefined;
  const url = parseUrl('OTEL_EXPORTER_OTLP_ENDPOINT', base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/traces`;
  return url;
}

function parseUrl(name: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new TraceConfigError(`${name}: ${value} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TraceConfigError(`${name}: ${value} must be http:// or https://`);
  return url;
}

/** `key=value,key2=value2` with percent-encoded values (the OTel list form); an empty value is refused. */
export function keyValues(name: string, text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const member of (text ?? '').split(',')) {
    if (member.trim() === '') continue;
    const eq = member.indexOf('=');
    const key = member.slice(0, eq).trim();
    if (eq <= 0 || key === '') throw new TraceConfigError(`${name}: "${member.trim().slice(0, 40)}" is not key=value`);
    try {
      out[key] = decodeURIComponent(member.slice(eq + 1).trim());
    } catch {
      throw new TraceConfigError(`${name}: the value of ${key} is not valid percent-encoding`);
    }
  }
  return out;
}

/** A headers file: one `Name: value` (or `name=value`) per line; blank lines and `#` comments skipped. */
export function headersFile(text: string, path: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const at = /^[^:=]+[:=]/.exec(trimmed)?.[0].length;
    if (at === undefined) throw new TraceConfigError(`--otlp-headers-file: ${path} line ${i + 1} is not "Name: value"`);
    out[trimmed.slice(0, at - 1).trim()] = trimmed.slice(at).trim();
  });
  return out;
}

function checkHeader(source: string, name: string, value: string): void {
  if (!HEADER_NAME.test(name)) throw new TraceConfigError(`${source}: ${name.slice(0, 40)} is not a header name`);
  if (/[\r\n\0]/.test(value)) throw new TraceConfigError(`${source}: the value of ${name} has a line break`);
}

function count(env: Env, name: string, fallback: number): number {
  const text = nonEmpty(env[name]);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new TraceConfigError(`${name}: ${text} is not a positive whole number`);
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
