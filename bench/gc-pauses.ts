import type { Readable } from 'node:stream';

/** V8's pauses over a stretch of a child's life: young-generation and full collections. */
export interface GcWindow {
  readonly scavenges: number;
  readonly scavengeMs: number;
  readonly longestMs: number;
  readonly markCompacts: number;
  readonly markCompactMs: number;
}

interface Pause {
  readonly full: boolean;
  readonly ms: number;
}

/**
 * One --trace-gc line's pause: "Scavenge 43.8 (58.2) -> 31.0 (58.2) MB, pooled: 0 MB, 0.80 / 0.01 ms
 * ...": the first figure after the sizes is the main thread's pause (V8's gc-tracer.cc, as Node 22
 * and 24 print it). "Minor Mark-Sweep" is the young collector V8 can run instead of the scavenger.
 */
const PAUSE = /(Scavenge|Minor Mark-Sweep|Mark-Compact)\b[^\n]*? MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ [\d.]+ ms/;

/**
 * Reads a child's --trace-gc output (its stdout, which it must keep to V8: the gateway's audit
 * goes to a file here) and sums the pauses between two marks. Reading it is also what keeps the
 * child from blocking on a full pipe.
 *
 * Pause time is what a collection costs a request that meets it: a young-generation collection
 * copies everything still alive, so objects kept alive by mistake (forward.ts, the relay's old
 * promise: 5-15 ms scavenges where the floor's take 0.5) show here long before CPU time does.
 */
export class GcPauses {
  private readonly pauses: Pause[] = [];
  private rest = '';

  constructor(stdout: Readable) {
    stdout.setEncoding('utf8');
    stdout.on('data', (text: string) => {
      const lines = (this.rest + text).split('\n');
      this.rest = lines.pop()!;
      for (const line of lines) {
        const m = PAUSE.exec(line);
        if (m) this.pauses.push({ full: m[1] === 'Mark-Compact', ms: Number(m[2]) });
      }
    });
  }

  /** Where the window starts: pass it to since(). */
  mark(): number {
    return this.pauses.length;
  }

  since(mark: number): GcWindow {
    const window = this.pauses.slice(mark);
    const young = window.filter((p) => !p.full);
    const full = window.filter((p) => p.full);
    const sum = (ps: readonly Pause[]) => ps.reduce((s, p) => s + p.ms, 0);
    return {
      scavenges: young.length,
      scavengeMs: sum(young),
      longestMs: Math.max(0, ...window.map((p) => p.ms)),
      markCompacts: full.length,
      markCompactMs: sum(full),
    };
  }
}
