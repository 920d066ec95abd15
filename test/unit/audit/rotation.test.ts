import { mkdirSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuditLog } from '../../../src/audit/audit-log.js';
import { nextPeriod, periodStart } from '../../../src/audit/rotation.js';

afterEach(() => {
  vi.useRealTimers();
});

function files(dir: string): string[] {
  return readdirSync(dir).sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]));
}

function numbers(dir: string, file: string): number[] {
  return readFileSync(join(dir, file), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { i: number }).i);
}

describe('audit log rotation (log.rotate)', () => {
  it('rotates by size into numbered files, keeps `keep` old ones, and loses no line it keeps', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotate-'));
    const log = AuditLog.open({ stdout: false, file: join(dir, 'logs/audit.jsonl'), level: 'info', rotate: { size: 2048, keep: 2 } });
    for (let i = 0; i < 200; i++) {
      log.logger.info({ i, pad: 'x'.repeat(100) });
      if (i % 10 === 9) await sleep(1);
    }
    await log.close();
    const names = files(join(dir, 'logs'));
    // Two rotated files and the one written last, numbered on from 1; the older ones removed.
    expect(names).toHaveLength(3);
    const highest = Number(names[2]!.split('.')[1]);
    expect(highest).toBeGreaterThan(3);
    expect(names).toEqual([`audit.${highest - 2}.jsonl`, `audit.${highest - 1}.jsonl`, `audit.${highest}.jsonl`]);
    // The files kept hold consecutive lines, the last one last; a rotated file is past the size.
    const kept = names.flatMap((n) => numbers(join(dir, 'logs'), n));
    expect(kept.at(-1)).toBe(199);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, k) => 200 - kept.length + k));
    for (const n of names.slice(0, 2)) expect(readFileSync(join(dir, 'logs', n)).length).toBeGreaterThanOrEqual(2048);
  });

  it('goes on with the highest numbered file at a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotate-'));
    mkdirSync(join(dir, 'logs'));
    writeFileSync(join(dir, 'logs/audit.3.jsonl'), '{"i":-3}\n');
    writeFileSync(join(dir, 'logs/audit.12.jsonl'), '{"i":-12}\n');
    writeFileSync(join(dir, 'logs/audit.x.jsonl'), 'not ours\n');
    const log = AuditLog.open({ stdout: false, file: join(dir, 'logs/audit.jsonl'), level: 'info', rotate: { size: 1024 * 1024, keep: 2 } });
    log.logger.info({ i: 1 });
    await log.close();
    expect(numbers(join(dir, 'logs'), 'audit.12.jsonl')).toEqual([-12, 1]);
  });

  it('starts the next file at the start of each period, and at start when the last one is from an earlier period', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotate-'));
    mkdirSync(join(dir, 'logs'));
    writeFileSync(join(dir, 'logs/audit.1.jsonl'), '{"i":0}\n');
    const lastHour = new Date(2026, 11, 6, 9, 30);
    utimesSync(join(dir, 'logs/audit.1.jsonl'), lastHour, lastHour);
    // Half a second before 11:00 by the gateway's clock, which then runs on in real time.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    vi.setSystemTime(new Date(2026, 11, 6, 10, 59, 59, 500));
    const log = AuditLog.open({ stdout: false, file: join(dir, 'logs/audit.jsonl'), level: 'info', rotate: { frequency: 'hourly', keep: 5 } });
    log.logger.info({ i: 1 });
    await sleep(1000);
    log.logger.info({ i: 2 });
    await log.close();
    expect(files(join(dir, 'logs'))).toEqual(['audit.1.jsonl', 'audit.2.jsonl', 'audit.3.jsonl']);
    expect(numbers(join(dir, 'logs'), 'audit.1.jsonl')).toEqual([0]);
    expect(numbers(join(dir, 'logs'), 'audit.2.jsonl')).toEqual([1]);
    expect(numbers(join(dir, 'logs'), 'audit.3.jsonl')).toEqual([2]);
  });

  it('finds periods by the local clock', () => {
    const at = new Date(2026, 11, 6, 10, 42, 17, 5).getTime();
    expect(periodStart(at, 'hourly')).toBe(new Date(2026, 11, 6, 10, 0).getTime());
    expect(nextPeriod(at, 'hourly')).toBe(new Date(2026, 11, 6, 11, 0).getTime());
    expect(periodStart(at, 'daily')).toBe(new Date(2026, 11, 6).getTime());
    expect(nextPeriod(at, 'daily')).toBe(new Date(2026, 11, 7).getTime());
    expect(nextPeriod(new Date(2026, 11, 31, 23, 59).getTime(), 'daily')).toBe(new Date(2027, 0, 1).getTime());
  });
});
