/**
 * The sampler, as OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG name it. Pure. The ratio decision
 * reads the trace id's low 52 bits (exact in a double), so every hop that uses the same ratio decides alike.
 */
import type { SpanContext } from './trace-context.ts';

/** Whether a new span is recorded: `parent` is what the caller sent (undefined for a new root). */
export type Sampler = (parent: SpanContext | undefined, traceId: string) => boolean;

export class SamplerError extends Error {}

const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];
const TWO_52 = 2 ** 52;

/** The sampler `name` (default parentbased_always_on) with `arg` (a ratio 0..1, default 1); throws on a bad value. */
export function buildSampler(name: string | undefined, arg: string | undefined): Sampler {
  const sampler = (name ?? 'parentbased_always_on').trim().toLowerCase() || 'parentbased_always_on';
  if (!SAMPLERS.includes(sampler)) throw new SamplerError(`OTEL_TRACES_SAMPLER: ${sampler} is not one of ${SAMPLERS.join(', ')}`);
  const ratio = arg === undefined || arg.trim() === '' ? 1 : Number(arg);
  if (sampler.endsWith('traceidratio') && !(ratio >= 0 && ratio <= 1)) throw new SamplerError(`OTEL_TRACES_SAMPLER_ARG: ${arg} is not a ratio between 0 and 1`);
  const root: (traceId: string) => boolean = sampler.endsWith('always_on') ? () => true
    : sampler.endsWith('always_off') ? () => false
    : (traceId) => parseInt(traceId.slice(19), 16) / TWO_52 < ratio;
  if (!sampler.startsWith('parentbased_')) return (_parent, traceId) => root(traceId);
  return (parent, traceId) => (parent === undefined ? root(traceId) : parent.isSampled);
}
