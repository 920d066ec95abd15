import { closeSync, fstatSync, mkdirSync, openSync, write, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AuditNotice } from './notice.js';
import { nextPeriod, NumberedFiles, periodStart, type RotateOptions } from './rotation.js';

/**
 * How many bytes of lines one destination keeps while it cannot be written: about 50,000 audit
 * lines. Past it a new line for that destination is dropped and counted, so a disk that stays
 * full cannot take the gateway's memory with it.
 */
export const MAX_UNWRITTEN_BYTES = 64 * 1024 * 1024;
/** While a destination cannot be written, what it keeps is tried again this often, traffic or not. */
export const RETRY_MS = 1000;
/** A full pipe (EAGAIN) is tried again after this long, as sonic-boom does, without calling it trouble. */
const BUSY_RETRY_MS = 100;
/** At exit a full pipe is waited for this long at most: an exit hook cannot wait for the event loop. */
const EXIT_BUSY_WAIT_MS = 1000;
/**
 * The trouble code of a destination that takes lines, but slower than they come (a stdout reader
 * that has stopped reading or reads slowly, a slow network disk): no write failed, yet lines are
 * being dropped.
 */
export const BACKLOG = 'BACKLOG';

export interface WriterEvents {
  /** The destination could not be written, could again, or lost lines at close. */
  notify(notice: AuditNotice): void;
  /** Lines dropped because the destination had no room left for them (for the metrics). */
  dropped(lines: number): void;
}

/**
 * The audit log's writes to a file or stdout: lines appended in order, asynchronously (libuv's
 * thread pool, so a slow disk never stalls the event loop), one write at a time.
 *
 * Written for what a destination does when it cannot take more: ENOSPC on a full disk, EIO, EFBIG,
 * EPIPE. pino's destination (sonic-boom 4.2) raised those as an 'error' event with no listener, an
 * uncaught exception, so the first full disk took the gateway down with every request in flight;
 * and its flushSync, which the exit hook ran next, retries a failed write forever, 100 ms at a
 * time, so the process never exited either and held its port without answering
 * (test/socket/audit/audit-disk-full.test.ts fails on that code). pino-roll, for log.rotate, wrote
 * in a worker thread that lost such lines unseen (rotation.ts does its part now). Here the
 * gateway keeps serving, keeps up to MAX_UNWRITTEN_BYTES of lines and tries them again every
 * RETRY_MS, says once that it cannot write and once that it can again (with the lines it lost, if
 * any), and reports not ready (/readyz) meanwhile, so a load balancer sends clients to a replica
 * whose audit is being written. At close and in the exit hook a write that fails is given up,
 * and what it lost is said on stderr, never waited for.
 */
export class LineWriter {
  /** Lines handed over and not yet part of a write, and their size. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The bytes of the current write, and how many of them the kernel has taken. */
  private current: Buffer | undefined;
  private taken = 0;
  /** A write of `current` is with the thread pool. */
  private writing = false;
  private trouble: { readonly code: string; readonly since: number } | undefined;
  /** Lines dropped since the trouble began, or since the last report. */
  private lost = 0;
  private retry: NodeJS.Timeout | undefined;
  private idle: (() => void)[] = [];
  /** From close() on, lines wait for its synchronous write instead of starting one of their own. */
  private closing = false;
  private closed = false;

  /** With log.rotate: the numbered files, the current one's size, and a rotation the clock asked for. */
  private rotation:
    | { readonly files: NumberedFiles; readonly options: RotateOptions; size: number; due: boolean; timer: NodeJS.Timeout | undefined; refused: string | undefined }
    | undefined;

  /** A regular file, where a write always comes back; not a pipe, socket or terminal. */
  private readonly regularFile: boolean;

  private constructor(
    private path: string,
    private fd: number,
    private readonly ownsFd: boolean,
    private readonly events: WriterEvents,
  ) {
    this.regularFile = fstatSync(fd).isFile();
  }

  /**
   * Appends to the file (created with its directory), or with `rotate` to its numbered files
   * (rotation.ts); throws what the open threw.
   */
  static file(path: string, events: WriterEvents, rotate?: RotateOptions): LineWriter {
    mkdirSync(dirname(path), { recursive: true });
    if (!rotate || (!rotate.size && !rotate.frequency)) return new LineWriter(path, openSync(path, 'a'), true, events);
    const files = new NumberedFiles(path, rotate.keep);
    if (rotate.frequency) files.startPeriod(periodStart(Date.now(), rotate.frequency));
    const fd = openSync(files.current, 'a');
    const writer = new LineWriter(files.current, fd, true, events);
    writer.rotation = { files, options: rotate, size: fstatSync(fd).size, due: false, timer: undefined, refused: undefined };
    writer.scheduleRotation();
    return writer;
  }

  static stdout(events: WriterEvents): LineWriter {
    return new LineWriter('stdout', 1, false, events);
  }

  /** The destination as an operator names it: the file being written, or stdout. */
  get destination(): string {
    return this.path;
  }

  /** Why the destination cannot be written, and since when (ms); undefined while it is written. */
  get unwritable(): { readonly code: string; readonly since: number } | undefined {
    return this.trouble;
  }

  /**
   * Whole lines, each ending in a newline: the audit's as UTF-8 bytes (line-bytes.ts), which this
   * only reads, and pino's, the gateway's own lines, as text.
   */
  write(lines: string | Buffer): void {
    const bytes = typeof lines === 'string' ? Buffer.from(lines, 'utf8') : lines;
    if (this.closed || this.held + bytes.length > MAX_UNWRITTEN_BYTES) return this.drop(bytes);
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (!this.writing && this.current === undefined && !this.closing) this.next();
  }

  /** Bytes handed over and not yet taken by the kernel. */
  private get held(): number {
    return this.pendingBytes + (this.current === undefined ? 0 : this.current.length - this.taken);
  }

  /**
   * No write is with the thread pool, and either everything handed over is written or the
   * destination cannot be written (then waiting would not help).
   */
  private get settled(): boolean {
    return !this.writing && (this.trouble !== undefined || (this.current === undefined && this.pending.length === 0));
  }

  private whenSettled(): Promise<void> {
    return this.settled ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve));
  }

  private next(): void {
    // One write at a time: a notice written from inside a write's callback may have started one.
    if (this.writing) return;
    if (this.current === undefined) {
      if (this.pending.length === 0) return;
      this.current = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
      this.taken = 0;
      this.pending = [];
      this.pendingBytes = 0;
    }
    this.writing = true;
    write(this.fd, this.current, this.taken, this.current.length - this.taken, null, this.written);
  }

  private readonly written = (err: NodeJS.ErrnoException | null, n: number): void => {
    this.writing = false;
    // A write close() gave up on, coming back at last: what it carried was already said lost.
    if (this.closed) return;
    if (err && (err.code === 'EAGAIN' || err.code === 'EBUSY')) {
      this.retry = setTimeout(() => this.next(), BUSY_RETRY_MS);
    } else if (err) {
      this.failed(err);
    } else {
      this.taken += n;
      if (this.rotation) this.rotation.size += n;
      if (this.taken >= this.current!.length) this.current = undefined;
      // A backlog has ended when half the bound is free again, not at the first write back: a
      // slow reader takes the first lines of a backlog long before it has taken the rest.
      if (this.trouble && (this.trouble.code !== BACKLOG || this.held < MAX_UNWRITTEN_BYTES / 2)) this.recovered();
      if (this.current === undefined && this.rotationDue()) this.rotate();
      this.next();
    }
    if (this.settled) for (const resolve of this.idle.splice(0)) resolve();
  };

  private failed(err: NodeJS.ErrnoException): void {
    if (!this.trouble || this.trouble.code === BACKLOG) {
      this.trouble = { code: err.code ?? err.message, since: Date.now() };
      this.events.notify({
        level: 'error',
        msg: `cannot write the audit log to ${this.destination}: ${this.trouble.code}; the gateway keeps serving, keeps up to ${MAX_UNWRITTEN_BYTES / 1024 / 1024} MB of lines for it, tries again every ${RETRY_MS / 1000} s, and reports not ready (/readyz) until it can write again`,
        fields: { destination: this.destination, code: this.trouble.code },
      });
    }
    this.retry = setTimeout(() => this.next(), RETRY_MS).unref();
  }

  private recovered(): void {
    const { code, since } = this.trouble!;
    this.trouble = undefined;
    const lost = this.lost;
    this.lost = 0;
    this.events.notify({
      level: lost > 0 ? 'error' : 'warn',
      msg: `the audit log is written to ${this.destination} again, after ${Math.round((Date.now() - since) / 1000)} s of ${code}; ${lost > 0 ? `${lost} lines did not fit in memory meanwhile and are lost` : 'no line was lost'}`,
      fields: { destination: this.destination, code, since: new Date(since).toISOString(), lostLines: lost },
    });
  }

  private drop(bytes: Buffer): void {
    const lines = countLines(bytes);
    this.lost += lines;
    this.events.dropped(lines);
    // A write that is slow rather than failed (a pipe whose reader stopped) would otherwise lose
    // lines unsaid until close: it is said when the first is dropped, and its end, with the
    // count, once half the bound is free again (written()).
    if (this.trouble === undefined && !this.closing) {
      this.trouble = { code: BACKLOG, since: Date.now() };
      this.events.notify({
        level: 'error',
        msg: `the audit log's destination ${this.destination} is not taking lines as fast as they come (${BACKLOG}): ${MAX_UNWRITTEN_BYTES / 1024 / 1024} MB of lines wait for it, new lines are dropped and counted until it catches up, and the gateway reports not ready (/readyz) meanwhile`,
        fields: { destination: this.destination, code: BACKLOG },
      });
    }
  }

  private rotationDue(): boolean {
    const r = this.rotation;
    return r !== undefined && (r.due || (r.options.size !== undefined && r.size >= r.options.size));
  }

  /**
   * At the start of each period, with log.rotate.frequency: rotates now if nothing is being
   * written, else after the write. Each period follows from the one before, not from the clock
   * when the timer fires, which may read a moment before the boundary it was set for.
   */
  private scheduleRotation(from = Date.now()): void {
    const r = this.rotation!;
    const frequency = r.options.frequency;
    if (!frequency) return;
    const boundary = nextPeriod(from, frequency);
    r.timer = setTimeout(() => {
      r.due = true;
      if (!this.writing && this.current === undefined && !this.closing) this.rotate();
      this.scheduleRotation(boundary);
    }, Math.max(0, boundary - Date.now())).unref();
  }

  /**
   * Goes on in the next numbered file, between two writes. One that cannot be opened (no room for
   * an inode, no permission) leaves the lines in the current file, said once until a rotation works.
   */
  private rotate(): void {
    const r = this.rotation!;
    const file = r.files.next;
    let fd: number;
    try {
      fd = openSync(file, 'a');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      r.due = false;
      r.size = 0;
      if (r.refused === undefined) {
        r.refused = code;
        this.events.notify({ level: 'error', msg: `cannot rotate the audit log to ${file}: ${code}; it goes on in ${this.path}`, fields: { destination: this.path, code } });
      }
      return;
    }
    closeSync(this.fd);
    this.fd = fd;
    this.path = file;
    const unremoved = r.files.advance();
    r.size = 0;
    r.due = false;
    r.refused = undefined;
    if (unremoved.length > 0) this.events.notify({ level: 'warn', msg: `cannot remove rotated audit files beyond log.rotate.keep: ${unremoved.join(', ')}`, fields: { destination: file, unremoved } });
  }

  /**
   * Everything still held, written now, for the exit hook: an uncaught exception or
   * process.exit(), when the event loop will not run again. A write already with the thread pool
   * is left to finish on its own (writing its bytes again could write them twice), so lines
   * handed over after it may land before it. A failed write is given up at once, and said.
   */
  flushSync(): void {
    if (this.closed) return;
    clearTimeout(this.retry);
    // concat, not push(...pending): a backlog held for a full disk can be more Buffers than a
    // call takes as arguments.
    const held = this.current !== undefined && !this.writing ? [this.current.subarray(this.taken)].concat(this.pending) : this.pending;
    this.current = undefined;
    this.pending = [];
    this.pendingBytes = 0;
    let rest = held.length === 1 ? held[0]! : Buffer.concat(held);
    // Behind a write still out on a pipe, a synchronous one could block for good (its reader may
    // have stopped reading, which may be why the first is still out): those lines are given up.
    if (this.writing && !this.regularFile && rest.length > 0) {
      this.lost += countLines(rest);
      this.trouble ??= { code: 'a write still under way', since: Date.now() };
      rest = rest.subarray(rest.length);
    }
    let busySince: number | undefined;
    while (rest.length > 0) {
      try {
        rest = rest.subarray(writeSync(this.fd, rest));
        busySince = undefined;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const busy = code === 'EAGAIN' || code === 'EBUSY';
        busySince ??= Date.now();
        if (!busy || Date.now() - busySince > EXIT_BUSY_WAIT_MS) {
          this.lost += countLines(rest);
          this.trouble ??= { code: code ?? (err as Error).message, since: Date.now() };
          break;
        }
        Atomics.wait(BUSY_WAIT, 0, 0, 10);
      }
    }
    if (this.lost > 0) {
      this.events.notify({
        level: 'error',
        msg: `${this.lost} audit lines for ${this.destination} could not be written before the gateway stopped (${this.trouble?.code ?? 'no room'}) and are lost`,
        fields: { destination: this.destination, code: this.trouble?.code, lostLines: this.lost },
      });
      this.lost = 0;
    }
  }

  /**
   * Waits for the writes under way (for a destination in trouble, only for the attempt with the
   * thread pool: its descriptor must not close under it), writes the rest, and closes the file.
   * A write that does not come back within `graceMs` (a pipe whose reader stopped reading blocks
   * it for good) is not waited for: what is held is said to be lost, and the descriptor stays
   * open under that write. Lines handed over after this are dropped and counted.
   */
  async close(graceMs: number): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.rotation?.timer);
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      this.whenSettled().then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
    ]);
    clearTimeout(timer);
    clearTimeout(this.retry);
    if (!settled) {
      const held = this.current === undefined ? this.pending : [this.current.subarray(this.taken), ...this.pending];
      const lost = this.lost + held.reduce((n, b) => n + countLines(b), 0);
      // The exit hook's flushSync must not try them again, synchronously, on the stuck descriptor.
      this.closed = true;
      this.current = undefined;
      this.pending = [];
      this.events.notify({
        level: 'error',
        msg: `${lost} audit lines for ${this.path} could not be written before the gateway stopped (a write did not come back within ${graceMs / 1000} s) and are lost`,
        fields: { destination: this.path, lostLines: lost },
      });
      return;
    }
    this.flushSync();
    this.closed = true;
    if (this.ownsFd) closeSync(this.fd);
  }
}

const BUSY_WAIT = new Int32Array(new SharedArrayBuffer(4));

const NEWLINE = 0x0a;

function countLines(bytes: Buffer): number {
  let lines = 0;
  for (let i = bytes.indexOf(NEWLINE); i !== -1; i = bytes.indexOf(NEWLINE, i + 1)) lines++;
  return lines;
}
