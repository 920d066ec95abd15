import type { Outcome } from './outcome.js';

/**
 * Something that takes outcomes: the audit log, the metrics, the dashboard. Its work comes in two
 * parts: what each outcome costs (a line, a tally), done as the outcomes come, and what a batch
 * of them costs once (the audit's write, the counters' increments), done at a commit.
 */
export interface OutcomeSink {
  recordAll(outcomes: readonly Outcome[]): void;
  /** Sends on everything recorded since the last commit. */
  commit(): void;
}

/**
 * How long a recorded outcome may wait for its commit. What a batch risks is this much of the
 * audit on SIGKILL: SIGTERM, a normal exit and an uncaught exception all flush first (serve.ts).
 */
export const FLUSH_MS = 50;
/** Outcomes waiting to be recorded: this many are recorded and committed at once, so a burst does not pile up in memory. */
export const MAX_PENDING = 512;
/**
 * Outcomes recorded in one turn of the event loop, at most: ~5 us an outcome in the sinks, so a
 * turn's work stays about what a request's own work takes, and waiting I/O runs between turns.
 */
export const SLICE = 16;
/**
 * Outcomes recorded between two commits, at most: one audit write carries this many lines. Each
 * write goes through libuv's thread pool, and the handover costs more than the write: a 10 KB
 * append took 40 us of CPU that way against 8.6 written synchronously (same file system, 5,000
 * writes). At 16 a write, the audit's commits took ~6 us of the event loop an outcome under the
 * harness's 1 KB call at concurrency 1, and the pool's thread 3-4 us more; at 64, with the lines
 * already encoded (line-bytes.ts), 1.3-1.6 us and 1-2 (docs/performance.md, session 33), and
 * one commit's turn no longer than a 16-line one took before.
 */
export const COMMIT_EVERY = 64;

/**
 * Collects the gateway's outcomes and hands them to the audit log, the metrics and the dashboard.
 * Each outcome is recorded in the turn of the event loop after the one it ended in
 * (setImmediate): at concurrency 1 that is when the response has been written and the gateway
 * waits for the client's next request, so the work fills a gap. Held for a 50 ms timer and then
 * recorded 16 a turn (up to session 23), a request that arrived during one of those ~80 us turns
 * waited for it: in alternating harness rounds at concurrency 1 the p99 was 0.63 ms that way,
 * 0.47 recorded a turn after its own, and 0.44 with no outcome published at all (Squid ssl_bump
 * 0.46; docs/performance.md, session 24). What a batch costs once still goes a batch at a time:
 * a commit every COMMIT_EVERY outcomes, or FLUSH_MS after the first uncommitted one (one audit
 * write per outcome cost ~40 us more a request in the same rounds).
 */
export class OutcomeBatch {
  private pending: Outcome[] = [];
  private nextTurn: NodeJS.Immediate | undefined;
  private commitTimer: NodeJS.Timeout | undefined;
  /** Recorded since the last commit. */
  private uncommitted = 0;

  constructor(private readonly sinks: readonly OutcomeSink[]) {}

  add(outcome: Outcome): void {
    this.pending.push(outcome);
    if (this.pending.length >= MAX_PENDING) this.flush();
    else this.nextTurn ??= setImmediate(this.recordTurn).unref();
  }

  /** Records and commits everything pending now (a scrape, a reload, a shutdown, the process exiting). */
  flush(): void {
    clearImmediate(this.nextTurn);
    this.nextTurn = undefined;
    if (this.pending.length > 0) {
      const all = this.pending;
      this.pending = [];
      this.record(all);
    }
    if (this.uncommitted > 0) this.commit();
  }

  private readonly recordTurn = (): void => {
    this.nextTurn = undefined;
    this.record(this.pending.splice(0, SLICE));
    if (this.pending.length > 0) this.nextTurn = setImmediate(this.recordTurn).unref();
    if (this.uncommitted >= COMMIT_EVERY) this.commit();
    else this.commitTimer ??= setTimeout(this.commit, FLUSH_MS).unref();
  };

  private record(outcomes: readonly Outcome[]): void {
    this.uncommitted += outcomes.length;
    for (const sink of this.sinks) sink.recordAll(outcomes);
  }

  private readonly commit = (): void => {
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    this.uncommitted = 0;
    for (const sink of this.sinks) sink.commit();
  };
}
