// The garbage-collector flag the gateway sets at start (src/core/gc-tuning.ts) must do what it is
// set for on the runtime the tests run on: setFlagsFromString says nothing when V8 ignores a flag.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../../src/core/package-root.js';

const TUNING = join(PACKAGE_ROOT, 'dist/src/core/gc-tuning.js');

/** Mark-compacts while 640 MB of short-lived 32 KB buffers (memory outside the heap) come and go. */
function markCompacts(tune: boolean): { count: number; stderr: string; tuned: string } {
  const script = `
    const { tuneGarbageCollector } = await import(${JSON.stringify(TUNING)});
    const tuned = ${tune} ? tuneGarbageCollector() : false;
    let keep = [];
    for (let i = 0; i < 20000; i++) { keep.push(Buffer.alloc(32 * 1024)); if (keep.length > 64) keep = []; }
    console.log('tuned=' + tuned);`;
  const r = spawnSync(process.execPath, ['--trace-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return { count: r.stdout.split('\n').filter((l) => l.includes('Mark-Compact')).length, stderr: r.stderr, tuned: /tuned=(\w+)/.exec(r.stdout)?.[1] ?? '' };
}

describe('garbage-collector tuning', () => {
  it('counts socket buffers against the heap limit where V8 has the flag, and is silent where it has not', () => {
    const untuned = markCompacts(false);
    const tuned = markCompacts(true);
    expect(tuned.stderr).toBe('');
    const [major = 0, minor = 0] = process.versions.v8.split('.').map(Number);
    if (major > 13 || (major === 13 && minor >= 6)) {
      expect(tuned.tuned).toBe('true');
      // Without the flag V8 runs a full GC for each 64 MB of external memory (8 here on Node 24).
      expect(untuned.count).toBeGreaterThanOrEqual(4);
      expect(tuned.count).toBeLessThan(untuned.count / 2);
    } else {
      expect(tuned.tuned).toBe('false');
    }
  });
});
