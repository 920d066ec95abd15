import type { Outcome } from './outcome.js';

/** Something that takes outcomes: the audit log, the metrics. */
export interface OutcomeSink {
  recordAll(outcomes: readonly Outcome[]): void;
}

/**
 * How long an outcome may wait for its batch. What a batch risks is this much of the audit on
 * SIGKILL: SIGTERM, a normal exit and an uncaught exception all flush first (serve.ts).
 */
export const FLUSH_MS = 50;
/** A batch this large goes out at once, so a burst does not pile up in memory. */
const MAX_PENDING = 512;

/**
 * Collects the gateway's outcomes and hands them to the audit log and the metrics in batches.
 * Recorded one at a time, between a request's TLS reads and writes, the audit line and the
 * metric updates cost ~90 us a request (timed inside the gateway under bench:gateway load: the
 * code runs cold); in a batch the same work runs warm in one loop, and the audit is one write.
 */
export class OutcomeBatch {
  private pending: Outcome[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly sinks: readonly OutcomeSink[]) {}

  add(outcome: Outcome): void {
    this.pending.push(outcome);
    if (this.pending.length >= MAX_PENDING) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  /** Hands everything pending to the sinks now (a scrape, a shutdown, the process exiting). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    for (const sink of this.sinks) sink.recordAll(batch);
  }
}
