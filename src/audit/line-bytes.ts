/** Bytes of the chunk lines are encoded into: about a hundred audit lines. */
export const CHUNK_BYTES = 64 * 1024;

/**
 * Audit lines as UTF-8 bytes, each encoded as it is recorded, and handed over as one Buffer at a
 * commit. Kept as one string (`+=`), a batch was a tree of the lines' pieces that the commit had
 * to flatten and then encode at once, ~2 us a line in one turn of the event loop (a 16-line
 * commit took 82-86 us in all, under the harness's 1 KB call at concurrency 1); encoded here, in
 * the turn after each request, where at concurrency 1 the gateway is waiting for the next one,
 * and with nothing of the batch left in V8's heap for a scavenge to copy.
 *
 * Bytes once handed over by take() are never written again: later lines go after them in the
 * same chunk, or in a new chunk when it is full, so a write still under way keeps its bytes.
 */
export class LineBytes {
  private chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  /** The first byte not yet handed over, and the end of what is encoded. */
  private start = 0;
  private end = 0;
  /** Chunks filled since the last take(), with what of each is not yet handed over. */
  private full: Buffer[] = [];

  add(line: string): void {
    // UTF-8 takes at most 3 bytes for each UTF-16 unit (4 for a surrogate pair's two), so that
    // much room always holds the whole line; with less, the line is measured, and a new chunk
    // started only if it does not fit (Buffer.write would cut it short), so what a chunk leaves
    // unused is less than the line after it: a backlog held for a full disk, counted by the
    // writer in bytes handed over, takes at most twice that in chunks.
    const room = this.chunk.length - this.end;
    if (room < line.length * 3) {
      const bytes = Buffer.byteLength(line, 'utf8');
      if (room < bytes) this.renew(bytes);
    }
    this.end += this.chunk.write(line, this.end, 'utf8');
  }

  /** Everything added since the last take(), in order. */
  take(): Buffer {
    const last = this.chunk.subarray(this.start, this.end);
    this.start = this.end;
    if (this.full.length === 0) return last;
    const all = Buffer.concat([...this.full, last]);
    this.full = [];
    return all;
  }

  private renew(bytes: number): void {
    if (this.end > this.start) this.full.push(this.chunk.subarray(this.start, this.end));
    this.chunk = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, bytes));
    this.start = 0;
    this.end = 0;
  }
}
