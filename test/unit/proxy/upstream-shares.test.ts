import { describe, expect, it } from 'vitest';
import { PRUNE_AT, shareKey, UpstreamShares, type ShareHolder } from '../../../src/proxy/upstream-shares.js';

const GRAPH = 'https://graph.microsoft.com';
const LOGIN = 'https://login.microsoftonline.com';

/** A holder that records the order in which holders were started. */
function holders(n: number, started: string[], prefix = 'x'): (ShareHolder & { name: string })[] {
  return Array.from({ length: n }, (_, i) => {
    const name = `${prefix}${i}`;
    return { name, start: () => void started.push(name) };
  });
}

const ONE = shareKey('10.0.0.1', GRAPH);

/** A share of one exchange: x0 goes, x1 and x2 wait, in that order. */
function oneGoingTwoWaiting() {
  const shares = new UpstreamShares(1);
  const started: string[] = [];
  const [a, b, c] = holders(3, started);
  for (const h of [a!, b!, c!]) shares.take(ONE, h);
  return { shares, started, a: a!, b: b!, c: c! };
}

describe('UpstreamShares', () => {
  it('lets a client have up to its share with a provider at once, and queues the rest', () => {
    const shares = new UpstreamShares(2);
    const started: string[] = [];
    const [a, b, c] = holders(3, started);
    expect(shares.take(shareKey('10.0.0.1', GRAPH), a!)).toBe(true);
    expect(shares.take(shareKey('10.0.0.1', GRAPH), b!)).toBe(true);
    expect(shares.take(shareKey('10.0.0.1', GRAPH), c!)).toBe(false);
    expect(started).toEqual([]);
  });

  it("hands an ended exchange's place to the client's oldest waiting one", () => {
    const { shares, started, a, b, c } = oneGoingTwoWaiting();
    shares.give(ONE, a);
    expect(started).toEqual(['x1']);
    shares.give(ONE, b);
    expect(started).toEqual(['x1', 'x2']);
    shares.give(ONE, c);
    expect(shares.size).toBe(0);
  });

  it('takes a waiting exchange that ends out of the queue, so it never starts', () => {
    const { shares, started, a, b, c } = oneGoingTwoWaiting();
    shares.give(ONE, b);
    shares.give(ONE, a);
    expect(started).toEqual(['x2']);
    shares.give(ONE, c);
    expect(shares.size).toBe(0);
    // The place is free again: a new exchange goes at once.
    expect(shares.take(ONE, a)).toBe(true);
  });

  it("keeps each client's share apart, and each provider's", () => {
    const shares = new UpstreamShares(1);
    const started: string[] = [];
    const [a, b] = holders(2, started, 'a');
    const [other] = holders(1, started, 'other');
    const [login] = holders(1, started, 'login');
    expect(shares.take(shareKey('10.0.0.1', GRAPH), a!)).toBe(true);
    expect(shares.take(shareKey('10.0.0.1', GRAPH), b!)).toBe(false);
    expect(shares.take(shareKey('10.0.0.2', GRAPH), other!)).toBe(true);
    expect(shares.take(shareKey('10.0.0.1', LOGIN), login!)).toBe(true);
    // Another client's or provider's exchange ending frees nothing of this one's.
    shares.give(shareKey('10.0.0.2', GRAPH), other!);
    shares.give(shareKey('10.0.0.1', LOGIN), login!);
    expect(started).toEqual([]);
    shares.give(shareKey('10.0.0.1', GRAPH), a!);
    expect(started).toEqual(['a1']);
  });

  it('keeps a pair whose exchanges all ended, until PRUNE_AT pairs are kept, then drops every idle one at once', () => {
    // Not one Map delete a request: V8 rebuilds a Map's table each time a delete leaves it under a quarter full.
    const shares = new UpstreamShares(1);
    const [h] = holders(1, []);
    for (let i = 0; i < PRUNE_AT; i++) {
      const key = shareKey(`10.0.${i >> 8}.${i & 255}`, GRAPH);
      expect(shares.take(key, h!)).toBe(true);
      shares.give(key, h!);
    }
    expect(shares.size).toBe(0);
    expect(shares.keptKeys).toBe(PRUNE_AT);
    // The same pair again costs no new key.
    shares.take(ONE, h!);
    shares.give(ONE, h!);
    expect(shares.keptKeys).toBe(PRUNE_AT);
    // A new pair past the bound: the idle ones go, the going one stays.
    const going = shareKey('10.1.0.1', GRAPH);
    expect(shares.take(going, h!)).toBe(true);
    expect(shares.keptKeys).toBe(1);
    expect(shares.size).toBe(1);
    // An exchange ended twice, or one never taken, leaves the counts alone.
    shares.give(going, h!);
    shares.give(going, h!);
    shares.give(shareKey('10.9.9.9', LOGIN), h!);
    expect(shares.size).toBe(0);
    expect(shares.take(going, h!)).toBe(true);
  });

  it('with more pairs going than half of PRUNE_AT, keeps idle keys up to twice those going before a prune', () => {
    // So each prune drops at least as many keys as it keeps: its pass stays a constant cost a new key.
    const shares = new UpstreamShares(1);
    const [h] = holders(1, []);
    const key = (i: number, origin = GRAPH) => shareKey(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, origin);
    const going = 3 * PRUNE_AT;
    for (let i = 0; i < going; i++) shares.take(key(i), h!);
    for (let i = 0; i < going; i++) {
      shares.take(key(i, LOGIN), h!);
      shares.give(key(i, LOGIN), h!);
    }
    expect(shares.keptKeys).toBe(2 * going);
    expect(shares.size).toBe(going);
    shares.take(key(0, 'https://www.googleapis.com'), h!);
    expect(shares.keptKeys).toBe(going + 1);
    expect(shares.size).toBe(going + 1);
  });
});
