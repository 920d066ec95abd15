import { describe, expect, it } from 'vitest';
import { LineTimes } from '../../../src/audit/audit-log.js';

describe('audit line times', () => {
  it('writes what toISOString writes, across seconds, in any order, for the years the audit can see', () => {
    const times = new LineTimes();
    const now = Date.UTC(2026, 11, 3, 14, 59, 59, 998);
    const seen = [now, now + 1, now + 2, now + 3, now + 1000, now + 1009, now + 1010, now + 1099, now + 1100, now - 5000, now, 0, 7, 999, -1, -1001, 253402300799999, 1.7e12 + 0.6];
    for (let t = now; t < now + 3000; t += 7.3) seen.push(t);
    for (const t of seen) expect(times.of(t), String(t)).toBe(new Date(t).toISOString());
  });
});
