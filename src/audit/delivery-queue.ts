import { closeSync, fdatasync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

export interface DeliveryQueueLimits {
  /** Events held in memory before new ones go to disk. */
  readonly memoryEvents: number;
  /** Where the spool segments live; created if missing. */
  readonly directory: string;
  /** The spool's bound; past it the oldest segment is dropped, and its events counted. */
  readonly maxDiskBytes: number;
}

export type DropReason = 'disk_full' | 'corrupt';

/** One spool file: events in order, each `[u32 length][u32 crc32][frame]`. */
interface Segment {
  readonly seq: number;
  bytes: number;
  events: number;
}

const SEGMENT_NAME = /^(\d{16})\.spool$/;
const RECORD_HEADER = 8;
/** Segment numbers start here so a shutdown can prepend segments older than the first one. */
const FIRST_SEQ = 1_000_000_000;
/** How often what was appended to the spool is fdatasync'ed: the window a power loss can take. */
export const SPOOL_SYNC_MS = 1000;

/**
 * A FIFO of framed events, bounded in memory and spilling to a bounded on-disk spool, in order:
 * the memory part always holds the oldest events, so an event goes to disk once memory is full
 * or the spool already holds something, and memory is refilled from the oldest segment. The
 * spool survives a restart (torn records at a segment's end are cut off, counted as corrupt);
 * what is in memory survives only a clean shutdown, which writes it back to disk (prependToDisk).
 */
export class DeliveryQueue {
  private memory: Buffer[] = [];
  private readonly segments: Segment[] = [];
  private writing: { seq: number; fd: number } | undefined;
  private dirty = false;
  private syncing: number | undefined;
  private closeAfterSync = false;
  private readonly syncTimer: NodeJS.Timeout;
  private readonly segmentBytes: number;

  private constructor(
    private readonly limits: DeliveryQueueLimits,
    private readonly onDropped: (reason: DropReason, events: number) => void,
  ) {
    // Small enough that dropping the oldest segment at the bound loses little, large enough to be few files.
    this.segmentBytes = Math.min(4 << 20, Math.max(4096, Math.floor(limits.maxDiskBytes / 8)));
    this.syncTimer = setInterval(() => this.syncSoon(), SPOOL_SYNC_MS).unref();
  }

  /** Opens the spool directory and counts what a previous run left there. */
  static open(limits: DeliveryQueueLimits, onDropped: (reason: DropReason, events: number) => void): DeliveryQueue {
    let names: string[];
    try {
      mkdirSync(limits.directory, { recursive: true, mode: 0o700 });
      names = readdirSync(limits.directory);
    } catch (err) {
      throw new Error(`cannot use the syslog spool ${limits.directory}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; run the gateway as a user that may write there, or set log.syslog.queue.directory to a writable place`);
    }
    const queue = new DeliveryQueue(limits, onDropped);
    const seqs = names
      .map((name) => SEGMENT_NAME.exec(name)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    for (const seq of seqs) {
      const { frames, corrupt } = queue.readSegment(seq);
      if (corrupt) onDropped('corrupt', 1);
      if (frames.length === 0) {
        unlinkSync(queue.pathOf(seq));
        continue;
      }
      queue.segments.push({ seq, bytes: statSync(queue.pathOf(seq)).size, events: frames.length });
    }
    return queue;
  }

  get memoryCount(): number {
    return this.memory.length;
  }

  get diskEvents(): number {
    return this.segments.reduce((n, s) => n + s.events, 0);
  }

  get diskBytes(): number {
    return this.segments.reduce((n, s) => n + s.bytes, 0);
  }

  get length(): number {
    return this.memory.length + this.diskEvents;
  }

  push(frame: Buffer): void {
    if (this.segments.length === 0 && this.memory.length < this.limits.memoryEvents) this.memory.push(frame);
    else this.appendToDisk([frame]);
  }

  /**
   * The oldest frames, up to about maxBytes (at least one), taken off the queue: the caller
   * sends them and puts back (unshift) what it could not confirm.
   */
  take(maxBytes: number): Buffer[] {
    if (this.memory.length === 0) this.refill();
    let bytes = 0;
    let n = 0;
    while (n < this.memory.length && (n === 0 || bytes + this.memory[n]!.length <= maxBytes)) bytes += this.memory[n++]!.length;
    const taken = this.memory.slice(0, n);
    this.memory = this.memory.slice(n);
    return taken;
  }

  /** Puts frames back at the head, oldest first (a connection lost before they were confirmed). */
  unshift(frames: readonly Buffer[]): void {
    if (frames.length > 0) this.memory = [...frames, ...this.memory];
  }

  /**
   * Shutdown: everything in memory (and `before`, older still) goes to disk ahead of the spool,
   * so the next start sends it first. Past the disk bound the oldest are dropped and counted.
   */
  prependToDisk(before: readonly Buffer[]): void {
    let frames = [...before, ...this.memory];
    this.memory = [];
    if (frames.length === 0) return;
    const room = this.limits.maxDiskBytes - this.diskBytes;
    let bytes = frames.reduce((n, f) => n + f.length + RECORD_HEADER, 0);
    let cut = 0;
    while (bytes > room && cut < frames.length) bytes -= frames[cut++]!.length + RECORD_HEADER;
    if (cut > 0) this.onDropped('disk_full', cut);
    frames = frames.slice(cut);
    if (frames.length === 0) return;
    const seq = (this.segments[0]?.seq ?? this.writing?.seq ?? FIRST_SEQ + 1) - 1;
    const fd = openSync(this.pathOf(seq), 'wx', 0o600);
    try {
      writeSync(fd, Buffer.concat(frames.map(record)));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.segments.unshift({ seq, bytes, events: frames.length });
  }

  /** Everything appended is on disk (fsync) and the files closed. */
  close(): void {
    clearInterval(this.syncTimer);
    this.closeWriting();
  }

  private appendToDisk(frames: readonly Buffer[]): void {
    const records = Buffer.concat(frames.map(record));
    let last = this.segments.at(-1);
    if (!this.writing || !last || last.seq !== this.writing.seq || last.bytes + records.length > this.segmentBytes) {
      this.closeWriting();
      const seq = last ? last.seq + 1 : FIRST_SEQ;
      this.writing = { seq, fd: openSync(this.pathOf(seq), 'a', 0o600) };
      last = { seq, bytes: 0, events: 0 };
      this.segments.push(last);
    }
    writeSync(this.writing.fd, records);
    last.bytes += records.length;
    last.events += frames.length;
    this.dirty = true;
    // The bound holds for whole segments; the one being written is never the one dropped.
    while (this.diskBytes > this.limits.maxDiskBytes && this.segments.length > 1) {
      const oldest = this.segments.shift()!;
      unlinkSync(this.pathOf(oldest.seq));
      this.onDropped('disk_full', oldest.events);
    }
  }

  /** Memory is empty: the oldest segment becomes memory, and its file goes. */
  private refill(): void {
    const oldest = this.segments.shift();
    if (!oldest) return;
    if (this.writing?.seq === oldest.seq) this.closeWriting();
    const { frames, corrupt } = this.readSegment(oldest.seq);
    if (corrupt) this.onDropped('corrupt', 1);
    unlinkSync(this.pathOf(oldest.seq));
    this.memory = frames;
  }

  private readSegment(seq: number): { frames: Buffer[]; corrupt: boolean } {
    const data = readFileSync(this.pathOf(seq));
    const frames: Buffer[] = [];
    let at = 0;
    while (at + RECORD_HEADER <= data.length) {
      const length = data.readUInt32BE(at);
      const end = at + RECORD_HEADER + length;
      if (end > data.length) break;
      const frame = data.subarray(at + RECORD_HEADER, end);
      if (crc32(frame) !== data.readUInt32BE(at + 4)) break;
      frames.push(Buffer.from(frame));
      at = end;
    }
    // A torn write (the process or the machine stopped mid-record) ends the segment there.
    return { frames, corrupt: at !== data.length };
  }

  private closeWriting(): void {
    if (!this.writing) return;
    const { fd } = this.writing;
    if (this.dirty) fsyncSync(fd);
    // A background fdatasync still holds the descriptor: it closes it when done, so no reused
    // descriptor number is ever synced (or closed) in its place.
    if (this.syncing === fd) this.closeAfterSync = true;
    else closeSync(fd);
    this.writing = undefined;
    this.dirty = false;
  }

  private syncSoon(): void {
    if (!this.writing || !this.dirty || this.syncing !== undefined) return;
    const { fd } = this.writing;
    this.dirty = false;
    this.syncing = fd;
    fdatasync(fd, () => {
      this.syncing = undefined;
      if (this.closeAfterSync) closeSync(fd);
      this.closeAfterSync = false;
    });
  }

  private pathOf(seq: number): string {
    return join(this.limits.directory, `${String(seq).padStart(16, '0')}.spool`);
  }
}

function record(frame: Buffer): Buffer {
  const header = Buffer.alloc(RECORD_HEADER);
  header.writeUInt32BE(frame.length, 0);
  header.writeUInt32BE(crc32(frame), 4);
  return Buffer.concat([header, frame]);
}
