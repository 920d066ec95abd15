import { median } from './median.js';

/** One proxy's CPU a request in one round of alternating rounds. */
export interface RoundCost {
  readonly proxy: string;
  readonly round: number;
  readonly totalUs: number;
  readonly stealPct: number;
}

export interface PairedRatio {
  readonly proxy: string;
  /** Its cost over the reference's, round by round, in the rounds both were under the steal limit. */
  readonly ratios: readonly number[];
  readonly medianRatio: number;
  /** Rounds in which it cost less than the reference. */
  readonly below: number;
}

/**
 * Each proxy's cost as a ratio to the reference's (the first name) in the same round. This
 * machine's speed moves between rounds a few seconds apart (Squid ssl_bump measured 152 and 228
 * us a request in consecutive 5 s rounds, steal 0), and a swing hits every proxy of a round
 * alike, so a round's ratio holds still where the medians of each proxy's own rounds move with
 * whichever rounds were slow.
 */
export function pairedRatios(costs: readonly RoundCost[], names: readonly string[], maxSteal: number): PairedRatio[] {
  const [reference, ...others] = names;
  if (reference === undefined) return [];
  const quiet = (proxy: string) => new Map(costs.filter((c) => c.proxy === proxy && c.stealPct <= maxSteal).map((c) => [c.round, c.totalUs]));
  const byRound = quiet(reference);
  const out: PairedRatio[] = [];
  for (const proxy of others) {
    const ratios: number[] = [];
    for (const [round, us] of quiet(proxy)) {
      const ref = byRound.get(round);
      if (ref !== undefined && ref > 0) ratios.push(us / ref);
    }
    if (ratios.length === 0) continue;
    out.push({ proxy, ratios, medianRatio: median(ratios), below: ratios.filter((r) => r < 1).length });
  }
  return out;
}
