import { Histogram, type MetricObjectWithValues, type MetricValueWithName, type Registry } from 'prom-client';

interface ProviderCounts {
  /** Observations per bucket, not cumulative: index i counts values in (bound[i-1], bound[i]]; the last counts those above every bound. */
  readonly perBucket: Float64Array;
  sum: number;
  count: number;
}

/** One line of the exposition as prom-client's Histogram hands it to the Registry (lib/histogram.js, setValuePair). */
interface Value {
  readonly labels: { readonly le?: number | '+Inf' };
  readonly sharedLabels: { readonly provider: string };
  readonly value: number;
  readonly metricName: string;
  readonly exemplar?: null;
}
interface Values {
  readonly name: string;
  readonly help: string;
  readonly type: 'histogram';
  readonly values: Value[];
  readonly aggregator: 'sum';
}

/**
 * A histogram labelled by provider that counts its observations itself and hands prom-client the
 * values only when the registry reads them (a scrape). prom-client's own observe() validates and
 * hashes the labels and turns the bucket's bound into a property name on every call: ~3.7k
 * machine instructions an observation, once per forwarded request (bench:instructions); here it
 * is a walk over the bounds and two additions. The values are the ones prom-client's Histogram
 * gives for the same observations, in the same order (test/unit/audit/latency-histogram.test.ts
 * holds the two texts equal), so the exposition does not change: cumulative buckets by `le`,
 * `+Inf`, `_sum` and `_count`, per provider in the order first seen.
 */
export class ProviderHistogram extends Histogram<'provider'> {
  private readonly metricName: string;
  private readonly metricHelp: string;
  private readonly bounds: readonly number[];
  // Declared, not initialised: prom-client's constructor calls reset(), which creates it, before
  // this class's own field initialisers would run.
  private declare byProvider: Map<string, ProviderCounts>;

  constructor(config: { readonly name: string; readonly help: string; readonly buckets: readonly number[]; readonly registers: Registry[] }) {
    const bounds = [...config.buckets];
    if (bounds.some((bound, i) => !Number.isFinite(bound) || (i > 0 && bound <= bounds[i - 1]!))) throw new RangeError(`${config.name}: buckets must be finite and ascending`);
    super({ name: config.name, help: config.help, labelNames: ['provider'], buckets: bounds, registers: config.registers });
    this.metricName = config.name;
    this.metricHelp = config.help;
    this.bounds = bounds;
  }

  /** One observation for `provider`, in seconds. */
  record(provider: string, seconds: number): void {
    let counts = this.byProvider.get(provider);
    if (!counts) this.byProvider.set(provider, (counts = { perBucket: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 }));
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && !(seconds <= bounds[i]!)) i++;
    counts.perBucket[i]!++;
    counts.sum += seconds;
    counts.count++;
  }

  override reset(): void {
    this.byProvider = new Map();
  }

  /** What prom-client's Registry formats into text (it reads this, when a metric has it, before get()). */
  async getForPromString(): Promise<Values> {
    const name = this.metricName;
    const values: Value[] = [];
    for (const [provider, counts] of this.byProvider) {
      const sharedLabels = { provider };
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += counts.perBucket[i]!;
        values.push({ labels: { le: this.bounds[i]! }, sharedLabels, value: cumulative, metricName: `${name}_bucket`, exemplar: null });
      }
      values.push({ labels: { le: '+Inf' }, sharedLabels, value: counts.count, metricName: `${name}_bucket`, exemplar: null });
      values.push({ labels: {}, sharedLabels, value: counts.sum, metricName: `${name}_sum` });
      values.push({ labels: {}, sharedLabels, value: counts.count, metricName: `${name}_count` });
    }
    return { name, help: this.metricHelp, type: 'histogram', values, aggregator: 'sum' };
  }

  /** The same values as objects, the provider among each one's labels (what prom-client's get() gives). */
  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<'provider'>>> {
    const data = await this.getForPromString();
    const values = data.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } }));
    // The declared MetricType is an enum that prom-client's runtime never uses: its type is the string.
    return { ...data, values } as unknown as MetricObjectWithValues<MetricValueWithName<'provider'>>;
  }
}
