import { randomFillSync } from 'node:crypto';

/** 128 ids' worth of random bytes per refill, as node:crypto's randomUUID caches its entropy. */
const POOL_IDS = 128;
const pool = Buffer.alloc(16 * POOL_IDS);
let next = pool.length;
const text = Buffer.alloc(36);
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/**
 * A random (version 4) UUID, RFC 9562 section 5.4, as one flat string. node:crypto's randomUUID
 * joins 20 pieces with `+`, which V8 keeps as a tree of ~11 strings linked by pointers until
 * something reads it whole. When outcomes waited up to 50 ms for their batch (session 23), a
 * scavenge found ~100 of them alive and copied each: the id's tree was ~380 B of the ~1 KB a
 * waiting outcome kept (heap snapshot under the anchors harness's 1 KB call at concurrency 1).
 * Written into a buffer and read out once, it is one 36-character string: what survived a
 * scavenge fell from ~104 to ~65 KB and its pause from 0.6-0.7 to 0.5 ms (`--trace-gc-nvp`;
 * docs/performance.md, session 23). Outcomes are now recorded a turn after they end
 * (outcome-batch.ts), so fewer wait; the id costs no more than randomUUID's either way.
 */
export function outcomeId(): string {
  if (next === pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  const at = next;
  next += 16;
  pool[at + 6] = (pool[at + 6]! & 0x0f) | 0x40; // version 4
  pool[at + 8] = (pool[at + 8]! & 0x3f) | 0x80; // variant 10xx
  let out = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text[out++] = 0x2d; // '-'
    const byte = pool[at + i]!;
    text[out++] = HEX[byte >> 4]!;
    text[out++] = HEX[byte & 0x0f]!;
  }
  return text.toString('latin1', 0, 36);
}
