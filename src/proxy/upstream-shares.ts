/** An exchange that waits for its client's share of a provider's pool; forward.ts's relay. */
export interface ShareHolder {
  /** Called once, when the exchange may go to the provider. */
  start(): void;
}

/**
 * Each client's share of a provider's connection pool. The pool is per provider origin and shared
 * by every client, so without a share one client could hold all of it: a request whose body it
 * uploads a byte at a time, or whose response it never reads, keeps its pooled connection busy
 * (each byte within limits.idleTimeout keeps the client connection alive), and every other
 * client's request to that provider would wait behind them until upstream.timeouts.connect. With
 * a share of half the pool, one client address leaves the other half to the rest; its own
 * requests past its share wait here, in its own queue, for one of its exchanges to end, timed by
 * upstream.timeouts.connect (upstream-deadlines.ts, phase `queued`). A client is who the
 * connection table counts (ConnectionTable.clientOf: an IPv6 client by its /64), so the same
 * fairness holds at both levels.
 */
export class UpstreamShares {
  /**
   * Exchanges dispatched and not yet ended, by shareKey(). A key whose count falls to 0 keeps its
   * entry, and such entries go all at once past PRUNE_AT keys: V8 rebuilds a Map's table whenever
   * a delete leaves it under a quarter full, and allocates the new table where the old one lives,
   * so a long-lived Map emptied at every request's end made a table of old-generation garbage a
   * request (docs/performance.md, session 38; connections.ts says the same of its idle set).
   */
  private readonly active = new Map<string, number>();
  /** Keys whose count is above 0. */
  private going = 0;
  /** Exchanges waiting for one of those to end, oldest first (a Set iterates in insertion order). */
  private readonly waiting = new Map<string, Set<ShareHolder>>();

  /** `perClient`: exchanges one client may have with one provider origin at once. */
  constructor(readonly perClient: number) {}

  /** True when the holder may go now; else its start() is called when its turn comes. `key`: shareKey(). */
  take(key: string, holder: ShareHolder): boolean {
    const active = this.active.get(key);
    // Twice the keys with something going, at least: so a prune always drops as many keys as it
    // keeps, and its pass costs a constant a new key, however many exchanges are going.
    if (active === undefined && this.active.size >= Math.max(PRUNE_AT, 2 * this.going)) this.pruneIdle();
    if ((active ?? 0) < this.perClient) {
      if (!active) this.going++;
      this.active.set(key, (active ?? 0) + 1);
      return true;
    }
    let queue = this.waiting.get(key);
    if (!queue) this.waiting.set(key, (queue = new Set()));
    queue.add(holder);
    return false;
  }

  /**
   * The holder's exchange ended (once per take): a waiting one leaves the queue; a started one
   * hands its place to the client's oldest waiting exchange with the same provider.
   */
  give(key: string, holder: ShareHolder): void {
    const queue = this.waiting.get(key);
    if (queue?.delete(holder)) {
      if (queue.size === 0) this.waiting.delete(key);
      return;
    }
    const next = queue && first(queue);
    if (next) {
      queue.delete(next);
      if (queue.size === 0) this.waiting.delete(key);
      next.start();
      return;
    }
    const active = this.active.get(key);
    if (!active) return;
    this.active.set(key, active - 1);
    if (active === 1) this.going--;
  }

  /** Client and origin pairs with an exchange going or waiting. */
  get size(): number {
    return this.going;
  }

  /** Keys kept, counting those with nothing going: up to the larger of PRUNE_AT and twice those going, then a prune. */
  get keptKeys(): number {
    return this.active.size;
  }

  private pruneIdle(): void {
    for (const [key, active] of this.active) if (active === 0) this.active.delete(key);
  }
}

/** Keys the shares keep, at least, before those with nothing going are dropped, all at once (UpstreamShares.active). */
export const PRUNE_AT = 4096;

/** What a share is kept under: one client with one provider origin. */
export function shareKey(client: string, origin: string): string {
  return `${client} ${origin}`;
}

function first<T>(set: Set<T>): T | undefined {
  for (const item of set) return item;
  return undefined;
}
