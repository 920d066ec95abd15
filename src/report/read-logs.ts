import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';

/**
 * The audit events in a log file, plain or gzipped (by content, whatever the name), line by line.
 * Lines that are not JSON (cut by a crash or a full disk, or a file that is not an audit log) are
 * left out and, once the file is read, told to `warn` with their number and the first one's line:
 * a report that left lines out without a word would look complete. JSON lines without an event
 * (the gateway's own: reloads, notices) are not counted.
 */
export async function* readEvents(file: string, warn: (note: string) => void = () => undefined): AsyncGenerator<Record<string, unknown>> {
  const handle = await open(file, 'r');
  const magic = Buffer.alloc(2);
  await handle.read(magic, 0, 2, 0);
  await handle.close();
  const raw = createReadStream(file);
  const input = magic[0] === 0x1f && magic[1] === 0x8b ? raw.pipe(createGunzip()) : raw;
  const lines = createInterface({ input, crlfDelay: Infinity });
  let number = 0;
  let skipped = 0;
  let firstSkipped = 0;
  for await (const line of lines) {
    number++;
    if (line.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = line.startsWith('{') ? JSON.parse(line) : undefined;
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined) {
      if (skipped++ === 0) firstSkipped = number;
      continue;
    }
    if (parsed && typeof parsed === 'object' && 'event' in parsed) yield parsed as Record<string, unknown>;
  }
  if (skipped > 0) {
    warn(`${file}: left out ${skipped} line${skipped === 1 ? '' : 's'} that ${skipped === 1 ? 'is' : 'are'} not an audit event (the first at line ${firstSkipped}): a line cut by a crash or a full disk, or a file that is not idp-egress's audit log`);
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
