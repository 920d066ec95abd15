import { describe, expect, it } from 'vitest';
import { append, median, percentile, percentiles } from '../../../bench/median.js';

describe("the benchmarks' sample statistics", () => {
  it('read percentiles from the sorted samples, whatever their order, and NaN from none', () => {
    const xs = [9, 1, 8, 2, 7, 3, 6, 4, 5, 10];
    expect(percentiles(xs, [0, 0.5, 0.9, 0.99, 1])).toEqual([1, 5, 9, 9, 10]);
    expect(percentile(xs, 0.5)).toBe(5);
    expect(median(xs)).toBe(5.5);
    expect(xs).toEqual([9, 1, 8, 2, 7, 3, 6, 4, 5, 10]);
    expect(percentiles([], [0.5, 0.99])).toEqual([Number.NaN, Number.NaN]);
  });

  it('append more samples than a call can take as arguments, in order', () => {
    const into = [-1];
    const more = Array.from({ length: 300_000 }, (_, i) => i);
    append(into, more);
    expect(into).toHaveLength(300_001);
    expect(into[0]).toBe(-1);
    expect(into[1]).toBe(0);
    expect(into.at(-1)).toBe(299_999);
  });
});
