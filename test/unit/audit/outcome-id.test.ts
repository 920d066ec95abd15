import { describe, expect, it } from 'vitest';
import { outcomeId } from '../../../src/audit/outcome-id.js';

// RFC 9562 section 5.4: version 4 in the 13th hex digit, variant 10 in the 17th.
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('outcome ids', () => {
  it('are version 4 UUIDs, none repeated, across many refills of the random pool', () => {
    const ids = Array.from({ length: 128 * 40 + 3 }, outcomeId);
    for (const id of ids) expect(id).toMatch(UUID_V4);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('spread every random digit over all sixteen values, as node:crypto randomUUID does', () => {
    // The 30 random hex digits of 4096 ids: each digit's count of each value is near 256.
    const counts = Array.from({ length: 36 }, () => new Map<string, number>());
    for (let n = 0; n < 4096; n++) {
      const id = outcomeId();
      for (let i = 0; i < 36; i++) counts[i]!.set(id[i]!, (counts[i]!.get(id[i]!) ?? 0) + 1);
    }
    for (const i of [0, 7, 9, 15, 20, 35]) {
      expect(counts[i]!.size, `digit ${i}`).toBe(16);
      for (const c of counts[i]!.values()) expect(c, `digit ${i}`).toBeGreaterThan(150);
    }
    // The variant digit takes 8, 9, a or b, each about a quarter of the time.
    expect([...counts[19]!.keys()].sort()).toEqual(['8', '9', 'a', 'b']);
    for (const c of counts[19]!.values()) expect(c).toBeGreaterThan(850);
  });
});
