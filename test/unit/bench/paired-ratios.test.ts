import { describe, expect, it } from 'vitest';
import { pairedRatios, type RoundCost } from '../../../bench/paired-ratios.js';

const cost = (proxy: string, round: number, totalUs: number, stealPct = 0): RoundCost => ({ proxy, round, totalUs, stealPct });

describe('paired ratios of alternating rounds', () => {
  it('divide each proxy by the reference in the same round, so a slow round moves neither side of a ratio', () => {
    const costs = [
      cost('squid', 1, 100),
      cost('gateway', 1, 90),
      cost('squid', 2, 200), // the machine at half speed: both slow
      cost('gateway', 2, 190),
      cost('squid', 3, 100),
      cost('gateway', 3, 110),
    ];
    const [gateway] = pairedRatios(costs, ['squid', 'gateway'], 15);
    expect(gateway!.proxy).toBe('gateway');
    expect(gateway!.ratios).toEqual([0.9, 0.95, 1.1]);
    expect(gateway!.medianRatio).toBe(0.95);
    expect(gateway!.below).toBe(2);
  });

  it('leave out a round in which either side was over the steal limit, and a proxy with no round left', () => {
    const costs = [cost('squid', 1, 100, 20), cost('gateway', 1, 50), cost('squid', 2, 100), cost('gateway', 2, 120), cost('floor', 1, 80, 30)];
    const paired = pairedRatios(costs, ['squid', 'gateway', 'floor'], 15);
    expect(paired.map((p) => p.proxy)).toEqual(['gateway']);
    expect(paired[0]!.ratios).toEqual([1.2]);
    expect(paired[0]!.below).toBe(0);
    expect(pairedRatios(costs, [], 15)).toEqual([]);
  });
});
