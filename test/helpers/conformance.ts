/**
 * The official MCP conformance suite (@modelcontextprotocol/conformance) run as a client against a
 * server URL, its results read from the per-scenario checks.json files it writes with `-o`. Its
 * CLI needs Node >= 22 (`fs.globSync`), so it runs on build.mjs's runtime, not the test's Node.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './proxy.ts';
import { buildRuntime } from './runtime.ts';

const CLI = join(ROOT, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
/** `<output-dir>/server-<scenario>-<ISO time with : and . as ->/checks.json`, one per scenario that ran. */
const RESULT_DIR = /^server-(.+)-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$/;

/** One check of a scenario; only FAILURE fails it (WARNING and INFO are reported, not scored). */
export interface Check {
  id: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';
  errorMessage?: string;
  details?: unknown;
}

export interface SuiteRun {
  /** How many scenarios the suite said it would run (its "Running active suite (N scenarios)" line). */
  planned: number;
  scenarios: Array<{ scenario: string; checks: Check[] }>;
  exitCode: number | null;
  /** What the CLI printed, for failure messages. */
  output: string;
}

/** Runs the suite's active server scenarios against `url`; kills it after `timeoutMs`. */
export async function runServerSuite(url: string, timeoutMs: number): Promise<SuiteRun> {
  const outDir = mkdtempSync(join(tmpdir(), 'mcpproxy-conformance-'));
  try {
    const env = { ...process.env };
    delete env.NODE_OPTIONS; // a loader of the test's Node (tsx) is no business of the suite's
    const cli = spawn(buildRuntime(), [CLI, 'server', '--url', url, '--output-dir', outDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    cli.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
    cli.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
    const timer = setTimeout(() => cli.kill('SIGKILL'), timeoutMs);
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      cli.once('error', reject).once('close', (code) => resolve(code));
    }).finally(() => clearTimeout(timer));
    const planned = /Running active suite \((\d+) scenarios\)/.exec(output);
    return { planned: planned === null ? 0 : Number(planned[1]), scenarios: readResults(outDir), exitCode, output };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

function readResults(outDir: string): SuiteRun['scenarios'] {
  return readdirSync(outDir).sort().map((name) => {
    const scenario = RESULT_DIR.exec(name)?.[1];
    if (scenario === undefined) throw new Error(`unexpected entry ${name} in the conformance output directory`);
    return { scenario, checks: JSON.parse(readFileSync(join(outDir, name, 'checks.json'), 'utf8')) as Check[] };
  });
}
