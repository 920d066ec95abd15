/** The median of the benchmarks' samples: for an even count, the mean of the two middle ones. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of no samples');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The samples at each fraction of `ps` of the way up the sorted samples, sorting once (NaN for none). */
export function percentiles(xs: readonly number[], ps: readonly number[]): number[] {
  const s = [...xs].sort((a, b) => a - b);
  return ps.map((p) => (s.length === 0 ? Number.NaN : s[Math.floor(p * (s.length - 1))]!));
}

/** One fraction of `percentiles`. */
export function percentile(xs: readonly number[], p: number): number {
  return percentiles(xs, [p])[0]!;
}

/**
 * Appends `more` to `into` one by one: `into.push(...more)` passes every sample as an argument,
 * and V8 refuses (RangeError) somewhere between 100,000 and 200,000 of them, which a long round
 * through a fast proxy reaches.
 */
export function append(into: number[], more: readonly number[]): void {
  for (const x of more) into.push(x);
}
