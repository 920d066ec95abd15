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
export const MAX_PENDING = 512;
/**
 * Outcomes handed on between two turns of the event loop. A batch costs ~5 us an outcome in the
 * sinks; handed on whole, the ~240 outcomes of 50 ms at concurrency 1 held the loop for ~1 ms
 * (up to 5), and the request that arrived meanwhile waited for all of it: one in ~200, the
 * gateway's p99. A slice of 16 is ~80 us, about what a request's own work takes, and fits in the
 * gaps while the gateway waits for a provider or a client.
 */
export const SLICE = 16;

/**
 * Collects the gateway's outcomes and hands them to the audit log and the metrics in batches.
 * Recorded one at a time, between a request's TLS reads and writes, the audit line and the
 * metric updates cost ~90 us a request (timed inside the gateway under bench:gateway load: the
 * code runs cold); in a batch the same work runs warm in one loop, and the audit is one write.
 * The timer's batch goes out a slice at a time, each slice in its own turn of the loop after the
 * I/O that is waiting (setImmediate), so a request never waits behind a whole batch.
 */
export class OutcomeBatch {
  private pending: Outcome[] = [];
  private timer: NodeJS.Timeout | undefined;
  private nextSlice: NodeJS.Immediate | undefined;
  /** How many outcomes at the front of `pending` make the batch being handed on. */
  private handing = 0;

  constructor(private readonly sinks: readonly OutcomeSink[]) {}

  add(outcome: Outcome): void {
    this.pending.push(outcome);
    if (this.pending.length >= MAX_PENDING) this.flush();
    else if (this.handing === 0) this.timer ??= setTimeout(this.startHanding, FLUSH_MS).unref();
  }

  /** Hands everything pending to the sinks now (a scrape, a shutdown, the process exiting). */
  flush(): void {
    clearTimeout(this.timer);
    clearImmediate(this.nextSlice);
    this.timer = undefined;
    this.nextSlice = undefined;
    this.handing = 0;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.record(batch);
  }

  private readonly startHanding = (): void => {
    this.timer = undefined;
    this.handing = this.pending.length;
    this.handOnSlice();
  };

  private readonly handOnSlice = (): void => {
    this.nextSlice = undefined;
    const slice = this.pending.splice(0, Math.min(SLICE, this.handing));
    this.handing -= slice.length;
    this.record(slice);
    if (this.handing > 0) this.nextSlice = setImmediate(this.handOnSlice).unref();
    else if (this.pending.length > 0) this.timer ??= setTimeout(this.startHanding, FLUSH_MS).unref();
  };

  private record(outcomes: readonly Outcome[]): void {
    for (const sink of this.sinks) sink.recordAll(outcomes);
  }
}
