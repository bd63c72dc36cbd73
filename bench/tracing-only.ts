// node --import tsx bench/tracing-only.ts [--quick]: the tracing phase alone (bench/tracing-cost.ts), as a check
// that it runs, without the rest of the bench.
import { parseArgs } from 'node:util';
import { Figures, machineMeta, renderMarkdown } from './report.ts';
import { FULL, QUICK } from './settings.ts';
import { defineTracingFigures, runTracingCost } from './tracing-cost.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean' } } });
const s = values.quick === true ? QUICK : FULL;
const f = new Figures();
defineTracingFigures(f);
const notes: string[] = [];
await runTracingCost(f, s, notes, (msg) => process.stderr.write(`[bench] ${msg}\n`));
process.stdout.write(`${renderMarkdown(f.list, machineMeta(values.quick === true ? 'quick' : 'full', { warmup: s.warmup, tracingCalls: s.tracingCalls }), notes)}\n`);
