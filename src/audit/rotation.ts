import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, extname } from 'node:path';

/** log.rotate: by size, by the clock, or both; `keep` rotated files besides the one being written. */
export interface RotateOptions {
  readonly size?: number | undefined;
  readonly frequency?: 'daily' | 'hourly' | undefined;
  readonly keep: number;
}

/**
 * The numbered files of a rotated audit log, named as pino-roll named them when it rotated the
 * gateway's audit (up to session 30), so that what reads them sees no change: for `audit.jsonl`
 * configured, `audit.1.jsonl`, `audit.2.jsonl`, ..., the highest number the one being written.
 * A start goes on with the highest number there is, or the next one when a frequency is set and
 * that file was last written in an earlier period; each rotation opens the next number and
 * removes every numbered file but the `keep` newest before it.
 */
export class NumberedFiles {
  private readonly stem: string;
  private readonly extension: string;
  private number: number;

  constructor(
    configured: string,
    private readonly keep: number,
  ) {
    this.extension = extname(configured);
    this.stem = configured.slice(0, configured.length - this.extension.length);
    this.number = Math.max(1, ...this.numbersPresent());
  }

  /** The file to write now. */
  get current(): string {
    return `${this.stem}.${this.number}${this.extension}`;
  }

  /** At start, with a frequency: a file last written before this period is left for the next number. */
  startPeriod(periodStart: number): void {
    try {
      const stat = statSync(this.current);
      if (stat.size > 0 && stat.mtimeMs < periodStart) this.number++;
    } catch {
      // not there yet: it is the one to write
    }
  }

  /** The file a rotation goes on in. */
  get next(): string {
    return `${this.stem}.${this.number + 1}${this.extension}`;
  }

  /** Once `next` is open: it is the current file, and the old ones beyond `keep` are removed (what could not be is said, not thrown). */
  advance(): readonly string[] {
    this.number++;
    const unremoved: string[] = [];
    for (const n of this.numbersPresent()) {
      if (n >= this.number - this.keep) continue;
      const file = `${this.stem}.${n}${this.extension}`;
      try {
        unlinkSync(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') unremoved.push(`${file} (${(err as NodeJS.ErrnoException).code})`);
      }
    }
    return unremoved;
  }

  private numbersPresent(): number[] {
    const prefix = `${basename(this.stem)}.`;
    let names: string[];
    try {
      names = readdirSync(dirname(this.stem));
    } catch {
      return [];
    }
    const numbers: number[] = [];
    for (const name of names) {
      if (!name.startsWith(prefix) || !name.endsWith(this.extension)) continue;
      const digits = name.slice(prefix.length, name.length - this.extension.length);
      if (/^[1-9]\d{0,8}$/.test(digits)) numbers.push(Number(digits));
    }
    return numbers;
  }
}

/** The start of the period `ms` falls in, by the host's local clock (as logrotate's daily and hourly). */
export function periodStart(ms: number, frequency: 'daily' | 'hourly'): number {
  const d = new Date(ms);
  if (frequency === 'daily') d.setHours(0, 0, 0, 0);
  else d.setMinutes(0, 0, 0);
  return d.getTime();
}

/** The start of the period after the one `ms` falls in (a local day may be 23 or 25 hours long; an hour is an hour). */
export function nextPeriod(ms: number, frequency: 'daily' | 'hourly'): number {
  const start = periodStart(ms, frequency);
  if (frequency === 'hourly') return start + 3_600_000;
  const d = new Date(start);
  d.setDate(d.getDate() + 1);
  return d.getTime();
}
