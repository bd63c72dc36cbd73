/**
 * The operations the field matrix runs on one client: what a server offers (its profile) and how
 * each operation is judged. Every operation has its own deadline and ends as a pass or its error,
 * so a broken one never hides the rest of the row.
 */
import { eventually, withDeadline } from './proxy.ts';
import type { FieldClient } from './field-clients.ts';
import type { Cell } from './field-table.ts';

export const OPERATIONS = ['tools', 'call', 'sampling', 'elicitation', 'progress', 'logging', 'env'] as const;
export type Operation = (typeof OPERATIONS)[number];

const OP_MS = 20_000;

interface ToolCall { name: string; args: Record<string, unknown>; expect: RegExp }

export interface Profile {
  tools: string[];
  echo: ToolCall;
  /** Returns the child's environment (an object of values, or a list of names) as JSON text. */
  env: string;
  sampling: ToolCall;
  elicitation: ToolCall;
  progress: { name: string; args: Record<string, unknown>; steps: number };
  /** `toggle`: server-everything's switch, which logs at once and then every 5 s; `call`: logs during the call. */
  logging: { kind: 'toggle'; name: string } | { kind: 'call'; name: string; args: Record<string, unknown> };
}

export const EVERYTHING_PROFILE: Profile = {
  tools: ['echo', 'get-env', 'trigger-sampling-request', 'trigger-elicitation-request', 'trigger-long-running-operation', 'toggle-simulated-logging'],
  echo: { name: 'echo', args: { message: 'field' }, expect: /^Echo: field$/ },
  env: 'get-env',
  sampling: { name: 'trigger-sampling-request', args: { prompt: 'hi', maxTokens: 5 }, expect: /sampled\(Resource trigger-sampling-request context: hi\)/ },
  elicitation: { name: 'trigger-elicitation-request', args: {}, expect: /User provided the requested information[\s\S]*Ada/ },
  progress: { name: 'trigger-long-running-operation', args: { duration: 1, steps: 2 }, steps: 2 },
  logging: { kind: 'toggle', name: 'toggle-simulated-logging' },
};

export const PYTHON_PROFILE: Profile = {
  tools: ['echo', 'env_keys', 'sample', 'elicit', 'progress'],
  echo: { name: 'echo', args: { text: 'field' }, expect: /^echo: field$/ },
  env: 'env_keys',
  sampling: { name: 'sample', args: { prompt: 'hi' }, expect: /^sampled: sampled\(hi\)$/ },
  elicitation: { name: 'elicit', args: { question: 'who?' }, expect: /^accept: Ada$/ },
  progress: { name: 'progress', args: { steps: 2 }, steps: 2 },
  logging: { kind: 'call', name: 'progress', args: { steps: 2 } },
};

async function expectCall(client: FieldClient, call: ToolCall): Promise<void> {
  const text = await client.call(call.name, call.args, { timeoutMs: OP_MS });
  if (!call.expect.test(text)) throw new Error(`${call.name} answered ${JSON.stringify(text.slice(0, 300))}, not ${call.expect}`);
}

async function checkTools(client: FieldClient, profile: Profile): Promise<void> {
  const names = await client.listTools();
  const missing = profile.tools.filter((name) => !names.includes(name));
  if (missing.length > 0) throw new Error(`tools/list lacks ${missing.join(', ')} (has ${names.join(', ')})`);
}

async function checkProgress(client: FieldClient, profile: Profile): Promise<void> {
  const seen: number[] = [];
  await client.call(profile.progress.name, profile.progress.args, { timeoutMs: OP_MS, onprogress: (p) => seen.push(p) });
  await eventually(() => seen.length >= profile.progress.steps, 3_000, `${profile.progress.steps} progress notifications (got ${JSON.stringify(seen)})`);
}

async function checkLogging(client: FieldClient, profile: Profile): Promise<void> {
  const logs: unknown[] = [];
  await client.listenForLogs((data) => logs.push(data));
  const logging = profile.logging;
  if (logging.kind === 'call') {
    await client.call(logging.name, logging.args, { timeoutMs: OP_MS, wantLogs: true });
    return eventually(() => logs.length > 0, 3_000, 'a log message during the call');
  }
  // One switch per child: in shared mode an earlier session may have left it on (then this call turns it off).
  const toggle = (): Promise<string> => client.call(logging.name, {}, { timeoutMs: OP_MS, wantLogs: true });
  if (!/^Started/.test(await toggle())) await toggle();
  try {
    await eventually(() => logs.length > 0, 8_000, 'a log message after simulated logging started');
  } finally {
    if (!/^Stopped/.test(await toggle())) await toggle();
  }
}

async function checkEnv(client: FieldClient, profile: Profile, secret: string): Promise<void> {
  const text = await client.call(profile.env, {}, { timeoutMs: OP_MS });
  const parsed = JSON.parse(text) as Record<string, string> | string[];
  const names = Array.isArray(parsed) ? parsed : Object.keys(parsed);
  if (names.length === 0) throw new Error(`${profile.env} listed no variable at all: ${text}`);
  const leaked = names.filter((name) => /^(AUTH_KEY|AUTH_KEY_FILE|AUTH_KEYS_FILE|MCP_SERVER_CONFIG|MCP_CONFIG)$/.test(name));
  if (leaked.length > 0 || text.includes(secret)) throw new Error(`the proxy's secret reached the child: ${leaked.join(', ') || 'its value'} in ${profile.env}`);
}

/** Every operation in order on `client`; a failed one records its error and the next still runs. */
export async function runOperations(client: FieldClient, profile: Profile, secret: string): Promise<Record<string, Cell>> {
  const checks: Record<Operation, () => Promise<void>> = {
    tools: () => checkTools(client, profile),
    call: () => expectCall(client, profile.echo),
    sampling: () => expectCall(client, profile.sampling),
    elicitation: () => expectCall(client, profile.elicitation),
    progress: () => checkProgress(client, profile),
    logging: () => checkLogging(client, profile),
    env: () => checkEnv(client, profile, secret),
  };
  const cells: Record<string, Cell> = {};
  for (const op of OPERATIONS) {
    try {
      await withDeadline(checks[op](), OP_MS + 10_000, op);
      cells[op] = { ok: true };
    } catch (err) {
      cells[op] = { ok: false, error: (err as Error).message.split('\n')[0]!.slice(0, 300) };
    }
  }
  return cells;
}
