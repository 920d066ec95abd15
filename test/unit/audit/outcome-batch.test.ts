import { describe, expect, it } from 'vitest';
import { COMMIT_EVERY, FLUSH_MS, MAX_PENDING, OutcomeBatch, SLICE, type OutcomeSink } from '../../../src/audit/outcome-batch.js';
import { allowedRequest as outcome } from '../../support/outcome.js';
import { until } from '../../support/wait.js';

/** A sink that keeps what it was handed, in order: each record's ids, and `commit` for each commit. */
function recorder(onRecord?: (records: string[][]) => void): OutcomeSink & { seen: (string[] | 'commit')[]; records: string[][]; commits: () => number } {
  const seen: (string[] | 'commit')[] = [];
  const records = () => seen.filter((s): s is string[] => s !== 'commit');
  return {
    seen,
    get records() {
      return records();
    },
    commits: () => seen.filter((s) => s === 'commit').length,
    recordAll: (outcomes) => {
      seen.push(outcomes.map((o) => o.id));
      onRecord?.(records());
    },
    commit: () => void seen.push('commit'),
  };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('OutcomeBatch', () => {
  it('records outcomes in the next turn of the event loop, in the order they came, and commits them within FLUSH_MS', async () => {
    const audit = recorder();
    const metrics = recorder();
    const batch = new OutcomeBatch([audit, metrics]);
    batch.add(outcome('a'));
    batch.add(outcome('b'));
    expect(audit.seen).toEqual([]);
    await nextTurn();
    expect(audit.seen).toEqual([['a', 'b']]);
    expect(metrics.seen).toEqual([['a', 'b']]);
    await until(() => audit.commits() > 0, FLUSH_MS * 20, 'the records were committed');
    expect(audit.seen).toEqual([['a', 'b'], 'commit']);
    expect(metrics.seen).toEqual([['a', 'b'], 'commit']);
  });

  it('commits as soon as COMMIT_EVERY outcomes are recorded, without waiting for the timer', async () => {
    const sink = recorder();
    const batch = new OutcomeBatch([sink]);
    for (let turn = 0; turn < COMMIT_EVERY / SLICE; turn++) {
      expect(sink.commits()).toBe(0);
      for (let i = 0; i < SLICE; i++) batch.add(outcome(`${turn}-${i}`));
      await nextTurn();
    }
    expect(sink.commits()).toBe(1);
    expect(sink.seen.at(-1)).toBe('commit');
    expect(sink.records.flat()).toHaveLength(COMMIT_EVERY);
    // Nothing was left uncommitted, so the timer armed by the first record commits nothing more.
    await new Promise((r) => setTimeout(r, FLUSH_MS * 2));
    expect(sink.commits()).toBe(1);
  });

  it('flushes on demand: records and commits what is pending; a flush with nothing pending does neither', () => {
    const sink = recorder();
    const batch = new OutcomeBatch([sink]);
    batch.add(outcome('a'));
    batch.flush();
    batch.flush();
    expect(sink.seen).toEqual([['a'], 'commit']);
  });

  it('records and commits a burst at once rather than holding it for the next turn', () => {
    const sink = recorder();
    const batch = new OutcomeBatch([sink]);
    for (let i = 0; i < MAX_PENDING; i++) batch.add(outcome(String(i)));
    expect(sink.seen.map((s) => (s === 'commit' ? s : s.length))).toEqual([MAX_PENDING, 'commit']);
    batch.flush();
  });

  it('records more than a slice in slices, one a turn, in order, each outcome once', async () => {
    const sink = recorder();
    const batch = new OutcomeBatch([sink]);
    const ids = Array.from({ length: SLICE * 3 + 5 }, (_, i) => String(i));
    for (const id of ids) batch.add(outcome(id));
    await until(() => sink.records.flat().length === ids.length, FLUSH_MS * 20, 'every outcome was recorded');
    expect(sink.records.map((b) => b.length)).toEqual([SLICE, SLICE, SLICE, 5]);
    expect(sink.records.flat()).toEqual(ids);
  });

  it('a flush between two turns records the rest at once, in order, and nothing after it twice', async () => {
    let batch: OutcomeBatch | undefined;
    const sink = recorder((records) => {
      // Queued before the next turn's slice: a scrape or a shutdown arriving between turns.
      if (records.length === 1)
        setImmediate(() => {
          batch!.add(outcome('late'));
          batch!.flush();
        });
    });
    batch = new OutcomeBatch([sink]);
    for (let i = 0; i < SLICE * 3; i++) batch.add(outcome(String(i)));
    await until(() => sink.records.flat().includes('late'), FLUSH_MS * 20, 'the flush recorded the rest');
    expect(sink.records.map((b) => b.length)).toEqual([SLICE, SLICE * 2 + 1]);
    expect(sink.seen.at(-1)).toBe('commit');
    const seenAtFlush = sink.seen.length;
    // The turn that would have come next, and the commit timer, must not hand anything over again.
    await new Promise((r) => setTimeout(r, FLUSH_MS * 2));
    expect(sink.records.flat()).toEqual([...Array.from({ length: SLICE * 3 }, (_, i) => String(i)), 'late']);
    expect(sink.seen).toHaveLength(seenAtFlush);
  });

  it('outcomes that come while others are recorded are recorded in a later turn, after them', async () => {
    let batch: OutcomeBatch | undefined;
    const sink = recorder((records) => {
      if (records.length === 1) batch!.add(outcome('during'));
    });
    batch = new OutcomeBatch([sink]);
    for (let i = 0; i < SLICE * 2; i++) batch.add(outcome(String(i)));
    await until(() => sink.records.flat().includes('during'), FLUSH_MS * 20, 'the outcome added meanwhile was recorded');
    expect(sink.records.flat()).toEqual([...Array.from({ length: SLICE * 2 }, (_, i) => String(i)), 'during']);
  });

  it('never holds more than MAX_PENDING outcomes waiting to be recorded', async () => {
    let batch: OutcomeBatch | undefined;
    let recordedAfterBurst: number | undefined;
    const sink = recorder((records) => {
      if (records.length === 1)
        setImmediate(() => {
          for (let i = 0; i < MAX_PENDING - SLICE; i++) batch!.add(outcome(`burst-${i}`));
          recordedAfterBurst = sink.records.flat().length;
        });
    });
    batch = new OutcomeBatch([sink]);
    for (let i = 0; i < SLICE * 2; i++) batch.add(outcome(String(i)));
    await until(() => recordedAfterBurst !== undefined, FLUSH_MS * 20, 'the burst came');
    // One slice recorded, one still waiting, and the burst filled the queue to its bound: all of
    // it was recorded there and then, in order, and committed.
    expect(recordedAfterBurst).toBe(SLICE * 2 + MAX_PENDING - SLICE);
    expect(sink.records.flat().at(SLICE * 2)).toBe('burst-0');
    expect(sink.records.flat().at(-1)).toBe(`burst-${MAX_PENDING - SLICE - 1}`);
    expect(sink.seen.at(-1)).toBe('commit');
  });
});
