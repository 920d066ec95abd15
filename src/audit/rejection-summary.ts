/**
 * How many rejections of one client, event kind and code are written in full per interval; the rest
 * become one summary line at the interval's end. A flood of refused connections or requests
 * (1,500 TOO_MANY_CONNECTIONS lines from one lockout attempt, measured) cannot fill the disk,
 * and nothing is silent: each summary says how many it stands for.
 */
export const SUMMARY_INTERVAL_MS = 10_000;
export const FULL_PER_INTERVAL = 50;
/**
 * Distinct clients tallied per interval. Past it, rejections from further clients share one
 * tally per kind and code under client "*": a flood from many addresses (a whole IPv6 prefix)
 * can neither grow this table without bound nor get 50 lines written for each address.
 */
export const MAX_TALLIES = 4_096;
export const MANY_CLIENTS = '*';

/** One "N more like this" line: rejections of one client, kind and code that were counted, not written. */
export interface RejectionSummaryLine {
  readonly client: string;
  /** The kind of event it stands for: request, connect, connection. */
  readonly event: string;
  readonly code: string;
  /** How many were counted and not written in full. */
  readonly count: number;
  /** Epoch milliseconds of the first and the last of them. */
  readonly first: number;
  readonly last: number;
  /** The first one's url (already redacted): what the rest looked like. */
  readonly sample: string;
}

interface Tally {
  written: number;
  counted: number;
  first: number;
  last: number;
  sample: string;
}

/**
 * Decides which rejections are written in full and collects the rest per client, kind and code. The
 * interval starts with the first rejection after a quiet one; at its end the summaries go to
 * `emit` and the counts start again.
 */
export class RejectionSummary {
  private tallies = new Map<string, Tally & { client: string; event: string; code: string }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly emit: (lines: readonly RejectionSummaryLine[]) => void,
    private readonly intervalMs = SUMMARY_INTERVAL_MS,
    private readonly fullPerInterval = FULL_PER_INTERVAL,
    private readonly maxTallies = MAX_TALLIES,
  ) {}

  /** True: write this rejection in full. False: it was counted into its summary. */
  admit(client: string, event: string, code: string, time: number, url: string): boolean {
    let key = `${client} ${event} ${code}`;
    let t = this.tallies.get(key);
    if (!t && this.tallies.size >= this.maxTallies) {
      client = MANY_CLIENTS;
      key = `${client} ${event} ${code}`;
      t = this.tallies.get(key);
    }
    if (!t) {
      t = { client, event, code, written: 0, counted: 0, first: time, last: time, sample: url };
      this.tallies.set(key, t);
      this.timer ??= setTimeout(() => this.flush(), this.intervalMs).unref();
    }
    if (t.written < this.fullPerInterval) {
      t.written++;
      return true;
    }
    if (t.counted === 0) {
      t.first = time;
      t.sample = url;
    }
    t.counted++;
    t.last = time;
    return false;
  }

  /** Ends the interval: every summary with a count goes out now (the timer, and at close). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const lines: RejectionSummaryLine[] = [];
    for (const t of this.tallies.values()) {
      if (t.counted > 0) lines.push({ client: t.client, event: t.event, code: t.code, count: t.counted, first: t.first, last: t.last, sample: t.sample });
    }
    this.tallies = new Map();
    if (lines.length > 0) this.emit(lines);
  }
}
