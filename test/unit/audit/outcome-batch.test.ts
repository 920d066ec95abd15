import { describe, expect, it } from 'vitest';
import { FLUSH_MS, OutcomeBatch, type OutcomeSink } from '../../../src/audit/outcome-batch.js';
import type { Outcome } from '../../../src/audit/outcome.js';
import { until } from '../../support/wait.js';

function outcome(id: string): Outcome {
  return { id, kind: 'request', client: '127.0.0.1', method: 'GET', url: 'https://graph.microsoft.com/v1.0/users', code: 'ALLOWED', decision: undefined, enforced: false, status: 200, tls: 'intercept', reason: 'r', durationMs: 1, time: Date.now() };
}

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
});
