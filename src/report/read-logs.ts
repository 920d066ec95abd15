import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';

/** Lines of a log that are not audit lines: how many, and where the first was (1-based). */
export interface SkippedLines {
  count: number;
  firstLine: number | undefined;
}

/**
 * The audit events in a log file, plain or gzipped (by content, whatever the name), line by line.
 * A line that is not JSON (cut by a crash or a full disk, or a file that is not an audit log) is
 * counted in `skipped`, for the caller to say: a report that left lines out without a word would
 * look complete. JSON lines without an event (the gateway's own: reloads, notices) are not counted.
 */
export async function* readEvents(file: string, skipped?: SkippedLines): AsyncGenerator<Record<string, unknown>> {
  const handle = await open(file, 'r');
  const magic = Buffer.alloc(2);
  await handle.read(magic, 0, 2, 0);
  await handle.close();
  const raw = createReadStream(file);
  const input = magic[0] === 0x1f && magic[1] === 0x8b ? raw.pipe(createGunzip()) : raw;
  const lines = createInterface({ input, crlfDelay: Infinity });
  let number = 0;
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
      if (skipped) {
        skipped.count++;
        skipped.firstLine ??= number;
      }
      continue;
    }
    if (parsed && typeof parsed === 'object' && 'event' in parsed) yield parsed as Record<string, unknown>;
  }
}

/** What a command says on stderr about the lines of `file` that it left out, if any. */
export function skippedNote(file: string, skipped: SkippedLines): string | undefined {
  if (skipped.count === 0) return undefined;
  return `${file}: left out ${skipped.count} line${skipped.count === 1 ? '' : 's'} that ${skipped.count === 1 ? 'is' : 'are'} not an audit event (the first at line ${skipped.firstLine}): a line cut by a crash or a full disk, or a file that is not idp-egress's audit log`;
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
