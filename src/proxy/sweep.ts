/**
 * What the gateway's sweeps share (upstream-deadlines.ts, tunnel-idle.ts): one interval over
 * everything they watch instead of a timer each, kept in an array with swap-removal.
 */

/** A sweep runs ten times within the limit it keeps, at most once a second and at least every 10 ms. */
export function sweepPeriodForLimit(limitMs: number): number {
  return Math.min(1_000, Math.max(10, Math.round(limitMs / 10)));
}

/**
 * Takes the item at `slot` out of `items` by moving the last one into its place, so nothing
 * shifts and order is not kept; returns the item that moved to `slot`, if one did.
 */
export function swapRemove<T>(items: T[], slot: number): T | undefined {
  const last = items.pop();
  if (slot >= items.length) return undefined;
  items[slot] = last!;
  return last;
}
