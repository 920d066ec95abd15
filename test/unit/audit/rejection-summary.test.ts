import { describe, expect, it } from 'vitest';
import { MANY_CLIENTS, RejectionSummary, type RejectionSummaryLine } from '../../../src/audit/rejection-summary.js';

describe('rejection summary', () => {
  it('writes the first N per client, kind and code, and counts the rest into one line', () => {
    const lines: RejectionSummaryLine[] = [];
    const s = new RejectionSummary((l) => lines.push(...l), 60_000, 3);
    const written = Array.from({ length: 10 }, (_, i) => s.admit('10.0.0.1', 'request', 'HOST_NOT_ALLOWED', i, `u${i}`));
    expect(written).toEqual([true, true, true, false, false, false, false, false, false, false]);
    s.flush();
    expect(lines).toEqual([{ client: '10.0.0.1', event: 'request', code: 'HOST_NOT_ALLOWED', count: 7, first: 3, last: 9, sample: 'u3' }]);
  });

  it('keeps a bounded table: past its size, further clients share one tally, so a flood from many addresses is still summarised', () => {
    const lines: RejectionSummaryLine[] = [];
    const s = new RejectionSummary((l) => lines.push(...l), 60_000, 2, 4);
    // Four clients fill the table; 100 more addresses, 3 rejections each, share the "*" tally.
    for (const c of ['a', 'b', 'c', 'd']) s.admit(c, 'connection', 'TOO_MANY_CONNECTIONS', 0, '');
    let written = 0;
    for (let i = 0; i < 100; i++) for (let k = 0; k < 3; k++) if (s.admit(`2001:db8::${i}`, 'connection', 'TOO_MANY_CONNECTIONS', 1, '')) written++;
    expect(written).toBe(2);
    s.flush();
    expect(lines).toEqual([{ client: MANY_CLIENTS, event: 'connection', code: 'TOO_MANY_CONNECTIONS', count: 298, first: 1, last: 1, sample: '' }]);
  });
});
