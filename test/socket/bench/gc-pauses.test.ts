import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { GcPauses } from '../../../bench/gc-pauses.js';

/** A Node child that makes V8 collect: young garbage, then a full collection it asks for. */
function collectingChild(youngRounds: number) {
  const script = `
    let keep;
    for (let i = 0; i < ${youngRounds}; i++) keep = new Array(1000).fill(0).map((_, j) => ({ j, s: 'x' + j }));
    globalThis.gc();
    process.stdout.write('done\\n');`;
  return spawn(process.execPath, ['--trace-gc', '--expose-gc', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
}

describe('GcPauses (bench:gateway reads the gateway and the floor through it)', () => {
  it("reads this Node's own --trace-gc lines: young collections and a full one, with their pauses", async () => {
    const child = collectingChild(2_000);
    const gc = new GcPauses(child.stdout);
    const start = gc.mark();
    await once(child, 'exit');
    const w = gc.since(start);
    expect(w.scavenges).toBeGreaterThan(0);
    expect(w.markCompacts).toBeGreaterThanOrEqual(1);
    expect(w.scavengeMs).toBeGreaterThan(0);
    expect(w.longestMs).toBeGreaterThan(0);
    expect(w.longestMs).toBeLessThanOrEqual(w.scavengeMs + w.markCompactMs);
  });

  it('counts only what follows a mark', async () => {
    const child = collectingChild(2_000);
    const gc = new GcPauses(child.stdout);
    await once(child, 'exit');
    const end = gc.mark();
    expect(end).toBeGreaterThan(0);
    expect(gc.since(end)).toEqual({ scavenges: 0, scavengeMs: 0, longestMs: 0, markCompacts: 0, markCompactMs: 0 });
  });
});
