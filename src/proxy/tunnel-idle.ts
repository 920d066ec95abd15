import { sweepPeriodForLimit, swapRemove } from './sweep.js';

/** What the sweep reads of a spliced tunnel: its client socket's byte counts (net.Socket's). */
export interface ByteCounts {
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

/** A tunnel the sweep watches, until forget(). */
export interface IdleWatch {
  forget(): void;
}

interface Watched {
  readonly socket: ByteCounts;
  readonly onIdle: () => void;
  read: number;
  written: number;
  /** Tick of the last sweep before the last bytes seen moved. */
  activeTick: number;
  /** Where it is kept, -1 once forgotten. */
  slot: number;
}

/**
 * limits.idleTimeout for spliced tunnels, kept by one sweep over the open tunnels that reads each
 * client socket's byte counts, instead of a timer on each socket: net.Socket restarts its timer on
 * every read and every write (Timeout.refresh: a libuv clock read and a move in the timer list),
 * which cost 1-4 us a request through the tunnel at concurrency 64 (alternating per-thread rounds
 * under the anchors harness, 6 each: the 1 KB call 34 against 38 and 34 against 35 us, the 20 KB
 * page 45 against 48; docs/performance.md, session 22). Every byte either way passes
 * through the client socket, so counts that have not moved for the limit mean a tunnel with no
 * traffic. Time is counted in sweeps as in upstream-deadlines.ts: a tunnel is closed once at least
 * the limit has passed since its last bytes, never early and at most two periods late.
 */
export class TunnelIdle {
  private tick = 0;
  private readonly watched: Watched[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly autoSweep: boolean;
  readonly periodMs: number;

  /** `autoSweep: false` leaves the sweeping to the caller (tests drive sweep() themselves). */
  constructor(
    private readonly idleTimeoutMs: number,
    { autoSweep = true }: { autoSweep?: boolean } = {},
  ) {
    this.periodMs = sweepPeriodForLimit(idleTimeoutMs);
    this.autoSweep = autoSweep;
  }

  watch(socket: ByteCounts, onIdle: () => void): IdleWatch {
    const w: Watched = { socket, onIdle, read: socket.bytesRead, written: socket.bytesWritten, activeTick: this.tick, slot: this.watched.length };
    this.watched.push(w);
    if (this.autoSweep) this.timer ??= setInterval(() => this.sweep(), this.periodMs).unref();
    return { forget: () => this.forget(w) };
  }

  get size(): number {
    return this.watched.length;
  }

  sweep(): void {
    const now = ++this.tick;
    // Found first, closed after: closing a tunnel forgets it, which moves slots.
    let idle: Watched[] | undefined;
    for (const w of this.watched) {
      const read = w.socket.bytesRead;
      const written = w.socket.bytesWritten;
      if (read !== w.read || written !== w.written) {
        w.read = read;
        w.written = written;
        w.activeTick = now - 1;
      } else if ((now - w.activeTick - 1) * this.periodMs >= this.idleTimeoutMs) {
        (idle ??= []).push(w);
      }
    }
    for (const w of idle ?? []) {
      if (w.slot < 0) continue;
      this.forget(w);
      w.onIdle();
    }
    if (this.watched.length === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private forget(w: Watched): void {
    const slot = w.slot;
    if (slot < 0) return;
    w.slot = -1;
    const moved = swapRemove(this.watched, slot);
    if (moved) moved.slot = slot;
  }
}
