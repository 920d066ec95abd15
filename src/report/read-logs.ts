import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';

/** The audit events in a log file, plain or gzipped (by content, whatever the name), line by line. */
export async function* readEvents(file: string): AsyncGenerator<Record<string, unknown>> {
  const handle = await open(file, 'r');
  const magic = Buffer.alloc(2);
  await handle.read(magic, 0, 2, 0);
  await handle.close();
  const raw = createReadStream(file);
  const input = magic[0] === 0x1f && magic[1] === 0x8b ? raw.pipe(createGunzip()) : raw;
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.startsWith('{')) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue; // a torn last line after a crash
    }
    if (parsed && typeof parsed === 'object' && 'event' in parsed) yield parsed as Record<string, unknown>;
  }
}

/** --since and --until as epoch milliseconds; either may be absent. */
export interface ReportWindow {
  readonly since?: number | undefined;
  readonly until?: number | undefined;
}

/** An event time inside the window: at or after since, before until; an unreadable time is outside any bound. */
export function inWindow(window: ReportWindow, time: number): boolean {
  return (window.since === undefined || time >= window.since) && (window.until === undefined || time < window.until);
}
