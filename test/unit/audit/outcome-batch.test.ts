import { describe, expect, it } from 'vitest';
import { FLUSH_MS, MAX_PENDING, OutcomeBatch, SLICE, type OutcomeSink } from '../../../src/audit/outcome-batch.js';
import { allowedRequest as outcome } from '../../support/outcome.js';
import { until } from '../../support/wait.js';

/** A sink that keeps the batches it was handed. */
function recorder(): OutcomeSink & { batches: string[][] } {
  const batches: string[][] = [];
  return { batches, recordAll: (outcomes) => void batches.push(outcomes.map((o) => o.id)) };
}

describe('OutcomeBatch', () => {
  it('hands a batch to every sink within FLUSH_MS, in the order the outcomes came', async () => {
    const audit = recorder();
    const metrics = recorder();
    const batch = new OutcomeBatch([audit, metrics]);
    batch.add(outcome('a'));
    batch.add(outcome('b'));
    expect(audit.batches).toEqual([]);
    await until(() => audit.batches.length > 0, FLUSH_MS * 20, 'the batch was handed over');
    expect(audit.batches).toEqual([['a', 'b']]);
    expect(metrics.batches).toEqual([['a', 'b']]);
  });

  it('flushes on demand, and a flush with nothing pending hands over nothing', () => {
    const sink = recorder();
    const batch = new OutcomeBatch([sink]);
    batch.add(outcome('a'));
    batch.flush();
    batch.flush();
    expect(sink.batches).toEqual([['a']]);
  });

  it('sends a burst out at once rather than holding it until the timer', () => {
    const sink = recorder();
    const batch = new OutcomeBatch([sink]);
    for (let i = 0; i < 512; i++) batch.add(outcome(String(i)));
    expect(sink.batches.map((b) => b.length)).toEqual([512]);
    batch.flush();
  });

  it('hands a batch larger than a slice on in slices, in order, each outcome once', async () => {
    const sink = recorder();
    const batch = new OutcomeBatch([sink]);
    const ids = Array.from({ length: SLICE * 3 + 5 }, (_, i) => String(i));
    for (const id of ids) batch.add(outcome(id));
    await until(() => sink.batches.flat().length === ids.length, FLUSH_MS * 20, 'the whole batch was handed over');
    expect(sink.batches.map((b) => b.length)).toEqual([SLICE, SLICE, SLICE, 5]);
    expect(sink.batches.flat()).toEqual(ids);
  });

  it('a flush between two slices hands on the rest at once, in order, and nothing after it twice', async () => {
    const batches: string[][] = [];
    const batch: OutcomeBatch = new OutcomeBatch([
      {
        recordAll: (outcomes) => {
          batches.push(outcomes.map((o) => o.id));
          // Queued before the next slice's turn: a scrape or a shutdown arriving between slices.
          if (batches.length === 1)
            setImmediate(() => {
              batch.add(outcome('late'));
              batch.flush();
            });
        },
      },
    ]);
    for (let i = 0; i < SLICE * 3; i++) batch.add(outcome(String(i)));
    await until(() => batches.flat().includes('late'), FLUSH_MS * 20, 'the flush handed the rest over');
    expect(batches.map((b) => b.length)).toEqual([SLICE, SLICE * 2 + 1]);
    // The slice that would have come next, and any timer, must not hand anything over again.
    await new Promise((r) => setTimeout(r, FLUSH_MS * 2));
    expect(batches.flat()).toEqual([...Array.from({ length: SLICE * 3 }, (_, i) => String(i)), 'late']);
    expect(batches).toHaveLength(2);
  });

  it('outcomes that come while a batch is being sliced go out in the next batch, after it', async () => {
    const batches: string[][] = [];
    const batch: OutcomeBatch = new OutcomeBatch([
      {
        recordAll: (outcomes) => {
          batches.push(outcomes.map((o) => o.id));
          if (batches.length === 1) batch.add(outcome('during'));
        },
      },
    ]);
    for (let i = 0; i < SLICE * 2; i++) batch.add(outcome(String(i)));
    await until(() => batches.flat().includes('during'), FLUSH_MS * 20, 'the outcome added meanwhile was handed over');
    expect(batches.flat()).toEqual([...Array.from({ length: SLICE * 2 }, (_, i) => String(i)), 'during']);
    expect(batches.at(-1)).toEqual(['during']);
  });

  it('never holds more than MAX_PENDING outcomes while a batch is being sliced', async () => {
    const batches: string[][] = [];
    let heldAfterBurst: number | undefined;
    const batch: OutcomeBatch = new OutcomeBatch([
      {
        recordAll: (outcomes) => {
          batches.push(outcomes.map((o) => o.id));
          if (batches.length === 1)
            setImmediate(() => {
              for (let i = 0; i < MAX_PENDING - SLICE; i++) batch.add(outcome(`burst-${i}`));
              heldAfterBurst = batches.flat().length;
            });
        },
      },
    ]);
    for (let i = 0; i < SLICE * 2; i++) batch.add(outcome(String(i)));
    await until(() => heldAfterBurst !== undefined, FLUSH_MS * 20, 'the burst came');
    // One slice out, one still held, and the burst filled the queue to its bound: all of it went
    // out there and then, in order.
    expect(heldAfterBurst).toBe(SLICE * 2 + MAX_PENDING - SLICE);
    expect(batches.flat().at(SLICE * 2)).toBe('burst-0');
    expect(batches.flat().at(-1)).toBe(`burst-${MAX_PENDING - SLICE - 1}`);
  });
});
