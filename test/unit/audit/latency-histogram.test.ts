import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ProviderHistogram } from '../../../src/audit/latency-histogram.js';

const NAME = 'idp_egress_upstream_duration_seconds';
const HELP = 'Time from the request to the end of the forwarded response, by provider';
const BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Durations that land on every bucket's bound, just either side of it, at 0 and past the last. */
const seconds = fc.oneof(
  fc.constantFrom(...BUCKETS, 0),
  fc.constantFrom(...BUCKETS).map((b) => b * (1 + Number.EPSILON)),
  fc.double({ min: 0, max: 100, noNaN: true }),
  fc.integer({ min: 0, max: 120_000 }).map((ms) => ms / 1000),
);
const observations = fc.array(fc.tuple(fc.constantFrom('entra-id', 'okta', 'google', 'keycloak', 'onelogin'), seconds), { maxLength: 60 });

function pair() {
  const ours = new Registry();
  const theirs = new Registry();
  const histogram = new ProviderHistogram({ name: NAME, help: HELP, buckets: BUCKETS, registers: [ours] });
  const reference = new Histogram({ name: NAME, help: HELP, labelNames: ['provider'], buckets: BUCKETS, registers: [theirs] });
  return { ours, theirs, histogram, reference };
}

describe('the provider latency histogram', () => {
  it("gives prom-client's Histogram text and JSON for the same observations, across scrapes and resets", async () => {
    await fc.assert(
      fc.asyncProperty(observations, observations, async (first, second) => {
        const { ours, theirs, histogram, reference } = pair();
        for (const [provider, s] of first) {
          histogram.record(provider, s);
          reference.observe({ provider }, s);
        }
        expect(await ours.metrics()).toBe(await theirs.metrics());
        expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
        ours.resetMetrics();
        theirs.resetMetrics();
        expect(await ours.metrics()).toBe(await theirs.metrics());
        for (const [provider, s] of second) {
          histogram.record(provider, s);
          reference.observe({ provider }, s);
        }
        expect(await ours.metrics()).toBe(await theirs.metrics());
      }),
      { numRuns: 300 },
    );
  });

  it('says which buckets it refuses', () => {
    expect(() => new ProviderHistogram({ name: 'h', help: 'h', buckets: [1, 0.5], registers: [] })).toThrow('h: buckets must be finite and ascending');
    expect(() => new ProviderHistogram({ name: 'h', help: 'h', buckets: [1, Infinity], registers: [] })).toThrow(RangeError);
  });
});
