import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LineWriter, MAX_UNWRITTEN_BYTES } from '../../../src/audit/line-writer.js';
import type { AuditNotice } from '../../../src/audit/notice.js';

function recorder() {
  const notices: AuditNotice[] = [];
  let dropped = 0;
  return { notices, dropped: () => dropped, events: { notify: (n: AuditNotice) => void notices.push(n), dropped: (n: number) => void (dropped += n) } };
}

describe('LineWriter', () => {
  it('appends every line in order, one write at a time, and close() waits for the last', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'line-writer-')), 'a/b/audit.jsonl');
    const r = recorder();
    const w = LineWriter.file(file, r.events);
    const expected: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const line = `{"n":${i},"pad":"${'x'.repeat(i % 300)}"}\n`;
      expected.push(line);
      w.write(line);
    }
    await w.close(5_000);
    expect(readFileSync(file, 'utf8')).toBe(expected.join(''));
    expect(r.notices).toEqual([]);
    expect(w.unwritable).toBeUndefined();
  });

  it('on a full disk keeps what fits in its bound, counts what does not, says so once, and gives up at close without waiting', async () => {
    const r = recorder();
    const w = LineWriter.file('/dev/full', r.events);
    const line = `${'y'.repeat(1023)}\n`;
    w.write(line);
    await expect.poll(() => w.unwritable?.code).toBe('ENOSPC');
    expect(r.notices).toHaveLength(1);
    expect(r.notices[0]).toMatchObject({ level: 'error', fields: { destination: '/dev/full', code: 'ENOSPC' } });
    // The first line is the failed write's; the bound holds the rest, then lines are dropped.
    const fits = MAX_UNWRITTEN_BYTES / line.length - 1;
    for (let i = 0; i < fits + 10; i++) w.write(line);
    expect(r.dropped()).toBe(10);
    await w.close(5_000);
    expect(r.notices).toHaveLength(2);
    expect(r.notices[1]).toMatchObject({ level: 'error', fields: { destination: '/dev/full', code: 'ENOSPC', lostLines: fits + 1 + 10 } });
    expect(r.notices[1]!.msg).toBe(`${fits + 11} audit lines for /dev/full could not be written before the gateway stopped (ENOSPC) and are lost`);
  });

  it("takes the audit's bytes and pino's text alike, in the order given, and counts a batch it loses by its lines", async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'line-writer-')), 'audit.jsonl');
    const w = LineWriter.file(file, recorder().events);
    const batch = '{"url":"https://example.okta.com/ü"}\n{"reason":"€ 😀"}\n';
    w.write(Buffer.from(batch, 'utf8'));
    w.write('{"msg":"config reloaded"}\n');
    w.write(Buffer.from(batch, 'utf8'));
    await w.close(5_000);
    expect(readFileSync(file, 'utf8')).toBe(`${batch}{"msg":"config reloaded"}\n${batch}`);

    const r = recorder();
    const full = LineWriter.file('/dev/full', r.events);
    full.write(Buffer.from('{"a":1}\n{"b":2}\n{"c":3}\n', 'utf8'));
    await expect.poll(() => full.unwritable?.code).toBe('ENOSPC');
    await full.close(5_000);
    expect(r.notices.at(-1)).toMatchObject({ level: 'error', fields: { destination: '/dev/full', lostLines: 3 } });
  });

  it('gives up a backlog of more lines than a call takes as arguments at close, and counts every one', async () => {
    const r = recorder();
    const w = LineWriter.file('/dev/full', r.events);
    w.write('{"first":1}\n');
    await expect.poll(() => w.unwritable?.code).toBe('ENOSPC');
    // pino's own lines arrive one write each: 200,000 Buffers held, over V8's ~120,000 arguments.
    for (let i = 0; i < 200_000; i++) w.write('{"n":1}\n');
    await w.close(5_000);
    expect(r.notices.at(-1)).toMatchObject({ level: 'error', fields: { destination: '/dev/full', lostLines: 200_001 } });
  });
});
