/**
 * Random trace and span ids (W3C: random, never all zeros), cut from a pooled buffer refilled from
 * the CSPRNG, so a span costs no system call of its own.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

function randomHex(bytes: number): string {
  for (;;) {
    if (offset + bytes > POOL_BYTES) {
      randomFillSync(pool);
      offset = 0;
    }
    const hex = pool.toString('hex', offset, offset + bytes);
    offset += bytes;
    if (!/^0+$/.test(hex)) return hex;
  }
}

/** 16 random bytes as 32 hex digits. */
export const newTraceId = (): string => randomHex(16);
/** 8 random bytes as 16 hex digits. */
export const newSpanId = (): string => randomHex(8);
