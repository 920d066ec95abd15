import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../../src/audit/audit-log.js';

describe('audit log rotation (log.rotate)', () => {
  it('rotates by size into numbered files, keeps `keep` old ones, and flushes the last line on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotate-'));
    const log = await AuditLog.open({ stdout: false, file: join(dir, 'logs/audit.jsonl'), level: 'info', rotate: { size: 2048, keep: 2 } });
    // pino-roll's size limit is soft: it rotates between writes, not inside a burst, so write
    // paced lines until it has rotated at least twice (bounded, for a loaded CI machine).
    let last = 0;
    for (let i = 0; i < 2000; i++) {
      log.logger.info({ i, pad: 'x'.repeat(100) });
      last = i;
      await sleep(3);
      if (i % 20 === 19 && readdirSync(join(dir, 'logs')).length >= 3) break;
    }
    await log.close();
    const files = readdirSync(join(dir, 'logs'));
    // At most two rotated files plus the active one; at least one rotation happened.
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(files.length).toBeLessThanOrEqual(3);
    for (const f of files) expect(f).toMatch(/^audit\.\d+\.jsonl$/);
    // The active file may have just been rotated and be empty, so look in all of them.
    const lines = files.flatMap((f) => readFileSync(join(dir, 'logs', f), 'utf8').split('\n').filter((l) => l.length > 0));
    expect(lines.map((l) => (JSON.parse(l) as { i: number }).i)).toContain(last);
  });
});
