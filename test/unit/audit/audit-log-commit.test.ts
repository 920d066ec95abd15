import type { DestinationStream } from 'pino';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../../src/audit/audit-log.js';
import type { AuditEntry } from '../../../src/audit/syslog-format.js';
import type { Outcome } from '../../../src/audit/outcome.js';
import { allowedRequest } from '../../support/outcome.js';
import { until } from '../../support/wait.js';

/** Every write the log made to its destination, as written. */
async function capturedLog(summaryIntervalMs = 60_000): Promise<{ log: AuditLog; writes: string[]; written: number[] }> {
  const writes: string[] = [];
  const written: number[] = [];
  const stdoutStream: DestinationStream = { write: (text: string) => void writes.push(text) };
  const log = AuditLog.open({ stdout: true, stdoutStream, level: 'info', summary: { intervalMs: summaryIntervalMs, fullPerInterval: 1 }, onWritten: (n) => written.push(n) });
  return { log, writes, written };
}

function denied(id: string): Outcome {
  return { ...allowedRequest(id), code: 'PATH_NOT_ALLOWED', enforced: true, status: 403 };
}

const ids = (write: string) => write.trimEnd().split('\n').map((l) => (JSON.parse(l) as { id?: string; event: string }).id ?? (JSON.parse(l) as { event: string }).event);

describe('AuditLog: lines recorded, then committed', () => {
  it('writes nothing at a record; a commit writes every line recorded since the last one, in order, in one write', async () => {
    const { log, writes, written } = await capturedLog();
    log.recordAll([allowedRequest('a'), allowedRequest('b')]);
    log.recordAll([allowedRequest('c')]);
    expect(writes).toEqual([]);
    log.commit();
    log.commit();
    expect(writes.map(ids)).toEqual([['a', 'b', 'c']]);
    expect(written).toEqual([3]);
    log.recordAll([allowedRequest('d')]);
    log.commit();
    expect(writes.map(ids)).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('writes a rejection summary after the events recorded before it, with them', async () => {
    const { log, writes } = await capturedLog(30);
    // One of each client and code is written in full (fullPerInterval 1); the second is counted.
    log.recordAll([denied('first'), denied('counted'), allowedRequest('after')]);
    await until(() => writes.length > 0, 5_000, 'the summary interval ended');
    expect(writes.map(ids)).toEqual([['first', 'after', 'summary']]);
  });

  it('commits what was recorded on flushSync and on close, so the exit hook and a shutdown lose nothing', async () => {
    const { log, writes } = await capturedLog();
    log.recordAll([allowedRequest('a')]);
    log.flushSync();
    expect(writes.map(ids)).toEqual([['a']]);
    log.recordAll([allowedRequest('b')]);
    await log.close();
    expect(writes.map(ids)).toEqual([['a'], ['b']]);
  });

  it('with the collector as its only destination, hands it each line as an entry at the commit', () => {
    const sent: AuditEntry[][] = [];
    const written: number[] = [];
    const log = AuditLog.open({ stdout: false, level: 'info', forward: { send: (entries) => void sent.push([...entries]), close: async () => undefined }, onWritten: (n) => written.push(n) });
    log.recordAll([allowedRequest('a'), allowedRequest('b')]);
    expect(sent).toEqual([]);
    log.commit();
    expect(sent.map((batch) => batch.map((e) => (JSON.parse(e.json!) as { id: string }).id))).toEqual([['a', 'b']]);
    expect(sent[0]!.map((e) => e.fields['id'])).toEqual(['a', 'b']);
    expect(written).toEqual([2]);
  });

  it("at debug, hands the collector a request's header names as their own entry after its event, fields and text alike", () => {
    const sent: AuditEntry[][] = [];
    const log = AuditLog.open({ stdout: false, level: 'debug', forward: { send: (entries) => void sent.push([...entries]), close: async () => undefined } });
    log.recordAll([{ ...allowedRequest('a'), requestHeaderNames: ['accept', 'authorization'] }]);
    log.commit();
    const [event, names] = sent[0]!;
    expect(sent[0]).toHaveLength(2);
    expect(event!.level).toBe(30);
    expect(names!.level).toBe(20);
    expect(names!.fields).toEqual({ id: 'a', requestHeaders: ['accept', 'authorization'], msg: 'request header names' });
    expect(JSON.parse(names!.json!)).toEqual({ level: 20, time: names!.time, ...names!.fields });
  });
});
