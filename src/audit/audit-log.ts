import { pino, type DestinationStream, type Logger } from 'pino';
import { AuditLines } from './audit-line.js';
import { LineBytes } from './line-bytes.js';
import { LineWriter } from './line-writer.js';
import type { AuditNotice } from './notice.js';
import { outcomeDecision, type Outcome } from './outcome.js';
import type { OutcomeSink } from './outcome-batch.js';
import { MANY_CLIENTS, RejectionSummary, type RejectionSummaryLine } from './rejection-summary.js';
import type { AuditEntry } from './syslog-format.js';

/**
 * One audit event: a JSON line per request, CONNECT or tunnel (docs/audit.md). Built field by
 * field from the outcome, so nothing that is not named here can reach the log: no header values
 * but the allowlisted response ones, no bodies, no query secrets (already redacted in the URL).
 * The file's line is written by AuditLines (audit-line.ts) straight from the outcome, as the
 * same text as this event's JSON (a test holds the two equal); the syslog collector gets both.
 */
export interface AuditEvent {
  readonly event: Outcome['kind'];
  readonly id: string;
  readonly client: string;
  readonly decision: 'allow' | 'deny' | 'would_deny';
  readonly code: string;
  readonly mode: string | undefined;
  readonly method: string;
  readonly url: string;
  readonly host: string | undefined;
  readonly provider: string | undefined;
  readonly endpoint: string | undefined;
  /** A site endpoint (policy/site-endpoints.ts): where the config defines it, file:line. */
  readonly site: string | undefined;
  readonly kind: string | undefined;
  readonly template: string | undefined;
  readonly tls: string | undefined;
  readonly status: number | undefined;
  readonly bytesIn: number | undefined;
  readonly bytesOut: number | undefined;
  readonly durationMs: number;
  readonly upstream: string | undefined;
  readonly reason: string;
  readonly [extra: string]: unknown;
}

export function auditEvent(o: Outcome): AuditEvent {
  const d = o.decision;
  return {
    event: o.kind,
    id: o.id,
    client: o.client,
    decision: outcomeDecision(o),
    code: o.code,
    mode: d?.mode,
    method: o.method,
    url: o.url,
    host: d?.host,
    provider: d?.provider,
    endpoint: d?.endpoint,
    site: d?.site,
    kind: d?.kind,
    template: d?.template,
    tls: o.tls,
    status: o.status,
    bytesIn: o.bytesIn,
    bytesOut: o.bytesOut,
    durationMs: Math.round(o.durationMs * 100) / 100,
    upstream: o.upstream,
    reason: o.reason,
    // Absent fields are undefined, which the JSON line leaves out; named, not spread (gateway.ts publish).
    response: o.responseHeaders && Object.keys(o.responseHeaders).length > 0 ? o.responseHeaders : undefined,
    token: o.token,
    tokenFp: o.presentedTokenFp,
  };
}

export interface AuditLogOptions {
  readonly stdout: boolean;
  readonly file?: string | undefined;
  /** debug adds diagnostic lines; audit events are written at every level. */
  readonly level: 'error' | 'warn' | 'info' | 'debug';
  readonly rotate?: { readonly size?: number | undefined; readonly frequency?: 'daily' | 'hourly' | undefined; readonly keep: number } | undefined;
  /** Where stdout lines go; process stdout unless a test captures them. */
  readonly stdoutStream?: DestinationStream;
  /** Told of each rejection counted into a summary instead of written (for the metrics). */
  readonly onSummarised?: (code: string) => void;
  /** Told how many lines (events and summaries) each write carried (for the metrics). */
  readonly onWritten?: (lines: number) => void;
  /** The summary interval and how many per client and code it writes in full (tests shorten them). */
  readonly summary?: { readonly intervalMs: number; readonly fullPerInterval: number };
  /** A collector that gets every line the file gets, as entries (syslog.ts), and its own flush on close. */
  readonly forward?: EntryForwarder | undefined;
  /** Told when stdout or the file cannot be written, when it can again, and of lines lost (line-writer.ts). */
  readonly onWriterNotice?: (notice: AuditNotice) => void;
  /** Told of lines dropped because a destination that could not be written had no room left (for the metrics). */
  readonly onDroppedLines?: (lines: number) => void;
}

export interface UnwritableDestination {
  readonly destination: string;
  readonly code: string;
  /** ms since the epoch */
  readonly since: number;
}

/** Where lines go: stdout or the file (a LineWriter, whose trouble /readyz reports), or a test's own stream. */
interface Destination {
  readonly stream: DestinationStream;
  readonly writer?: LineWriter;
}

export interface EntryForwarder {
  send(entries: readonly AuditEntry[]): void;
  close(graceMs: number): Promise<void>;
}

/**
 * The audit log: JSON lines to stdout and/or a file (line-writer.ts: asynchronous writes, kept
 * through a full disk; rotation.ts for log.rotate), handed over in batches by OutcomeBatch and
 * flushed on close.
 */
export class AuditLog implements OutcomeSink {
  /** Floods of rejections from one client become "N more like this" lines (rejection-summary.ts). */
  private readonly summary: RejectionSummary;
  private readonly lineTimes = new LineTimes();
  private readonly lines = new AuditLines();
  /**
   * Lines recorded and not yet committed (written), in order, as the destinations' bytes: none
   * without a destination (the collector alone), which takes entries instead.
   */
  private readonly uncommitted: LineBytes | undefined;
  private uncommittedCount = 0;
  private forwarded: AuditEntry[] = [];

  private constructor(
    /** The gateway's own lines (a reload, a refused config) in the same format; not the events. */
    readonly logger: Logger,
    private readonly destinations: readonly Destination[],
    private readonly debug: boolean,
    private readonly onSummarised: ((code: string) => void) | undefined,
    summary: AuditLogOptions['summary'],
    private readonly forward: EntryForwarder | undefined,
    private readonly onWritten: ((lines: number) => void) | undefined,
  ) {
    this.summary = new RejectionSummary((lines) => this.writeSummaries(lines), summary?.intervalMs, summary?.fullPerInterval);
    this.uncommitted = destinations.length > 0 ? new LineBytes() : undefined;
  }

  /** Opens its destinations now; throws, with the fix, when the file cannot be opened. */
  static open(options: AuditLogOptions): AuditLog {
    const destinations: Destination[] = [];
    const events = { notify: options.onWriterNotice ?? (() => undefined), dropped: options.onDroppedLines ?? (() => undefined) };
    if (options.stdoutStream) {
      destinations.push({ stream: options.stdoutStream });
    } else if (options.stdout) {
      const writer = LineWriter.stdout(events);
      destinations.push({ stream: writer, writer });
    }
    if (options.file) {
      const file = options.file;
      const unwritable = (err: NodeJS.ErrnoException) =>
        new Error(`cannot open the audit log ${file}: ${err.code ?? err.message}; run the gateway as a user that may write there, or set log.file to a writable place`);
      let writer: LineWriter;
      try {
        writer = LineWriter.file(file, events, options.rotate);
      } catch (err) {
        throw unwritable(err as NodeJS.ErrnoException);
      }
      destinations.push({ stream: writer, writer });
    }
    const level = options.level === 'debug' ? 'debug' : 'info';
    // The gateway's own lines (a reload, a collector gone) reach the collector too: they are rare,
    // so each is parsed back from pino's text rather than built twice.
    const forward = options.forward;
    const streams = destinations.map((d) => d.stream);
    const loggerStreams = forward ? [...streams, { write: (line: string) => forward.send([entryOf(line)]) }] : streams;
    const logger = pino(
      { level, base: null, timestamp: pino.stdTimeFunctions.isoTime },
      loggerStreams.length === 1 ? loggerStreams[0]! : pino.multistream(loggerStreams.map((stream) => ({ stream, level })))
    );
    return new AuditLog(logger, destinations, level === 'debug', options.onSummarised, options.summary, forward, options.onWritten);
  }

  /** The destinations that cannot be written now (a full disk), why and since when: none while every line is written. */
  get unwritable(): readonly UnwritableDestination[] {
    return this.destinations.flatMap((d) => {
      const trouble = d.writer?.unwritable;
      return trouble ? [{ destination: d.writer!.destination, ...trouble }] : [];
    });
  }

  /**
   * One line per outcome, as pino writes a line (level, time, then the fields), kept until the
   * commit writes all of them in one write to each destination.
   */
  recordAll(outcomes: readonly Outcome[]): void {
    for (const o of outcomes) {
      if (outcomeDecision(o) === 'deny' && !this.summary.admit(o.client, o.kind, o.code, o.time, o.url)) {
        this.onSummarised?.(o.code);
        continue;
      }
      const time = this.lineTimes.of(o.time);
      this.append(30, time, this.lines.line(30, time, o), this.forward && auditEvent(o));
      // Header names only, never values: enough to see what a client sends.
      if (this.debug && o.requestHeaderNames) this.keep(20, time, { id: o.id, requestHeaders: o.requestHeaderNames, msg: 'request header names' });
    }
  }

  /** The lines recorded since the last commit, in one write to each destination, and to the collector as entries. */
  commit(): void {
    const count = this.uncommittedCount;
    if (count === 0) return;
    const forwarded = this.forwarded;
    this.uncommittedCount = 0;
    this.forwarded = [];
    if (this.uncommitted) {
      const bytes = this.uncommitted.take();
      // A file or stdout takes the bytes as they are (each writer only reads them); a stream of
      // the caller's own takes text, as pino hands it the gateway's own lines.
      for (const d of this.destinations) {
        if (d.writer) d.writer.write(bytes);
        else d.stream.write(bytes.toString('utf8'));
      }
    }
    if (this.forward) this.forward.send(forwarded);
    this.onWritten?.(count);
  }

  private keep(level: number, time: string, fields: Record<string, unknown>): void {
    this.append(level, time, jsonLine(level, time, fields), this.forward && fields);
  }

  /**
   * One line until the commit. The collector gets it as serialised here, not serialised again,
   * with its fields (`forwarded`, given only when there is a collector).
   */
  private append(level: number, time: string, line: string, forwarded: Record<string, unknown> | undefined): void {
    this.uncommitted?.add(line);
    this.uncommittedCount++;
    if (forwarded) this.forwarded.push({ level, time, fields: forwarded, json: line.slice(0, -1) });
  }

  /** Written at once, after the events recorded before them (the summary runs on its own timer). */
  private writeSummaries(lines: readonly RejectionSummaryLine[]): void {
    for (const l of lines) {
      this.keep(30, new Date(l.last).toISOString(), {
        event: 'summary',
        summarises: l.event,
        client: l.client,
        decision: 'deny',
        code: l.code,
        count: l.count,
        firstTime: new Date(l.first).toISOString(),
        url: l.sample,
        reason: `${l.count} more ${l.event} rejections like this from ${l.client === MANY_CLIENTS ? 'more clients than are counted one by one' : l.client}, counted rather than written one by one`,
      });
    }
    this.commit();
  }

  /** Everything written so far, on its way out before the process is: for the exit hook. */
  flushSync(): void {
    this.summary.flush();
    this.commit();
    for (const d of this.destinations) d.writer?.flushSync();
  }

  /**
   * Writes what is buffered and closes the destinations; every completed request is on disk after
   * this. The collector gets up to graceMs to take the rest; what it did not is spooled for the next start.
   */
  async close(graceMs = 5000): Promise<void> {
    this.summary.flush();
    this.commit();
    for (const d of this.destinations) await d.writer?.close(graceMs);
    await this.forward?.close(graceMs);
  }
}

/**
 * The ISO 8601 times of audit lines, which mostly share their second with the line before: that
 * second's text is kept, since toISOString formats through vfprintf (0.66 against 0.02 us a line,
 * Node 24). The same text as toISOString for the years 0 to 9999, in any order of times.
 */
export class LineTimes {
  private second = Number.NaN;
  private prefix = '';

  of(ms: number): string {
    const second = Math.floor(ms / 1000);
    if (second !== this.second) {
      this.second = second;
      this.prefix = new Date(second * 1000).toISOString().slice(0, 20);
    }
    const milli = Math.floor(ms) - second * 1000;
    return `${this.prefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
  }
}

/** One of pino's lines back as an entry: level and time apart, the rest as fields. */
function entryOf(line: string): AuditEntry {
  const { level, time, ...fields } = JSON.parse(line) as { level: number; time: string };
  return { level, time, fields };
}

/** A line as pino writes one: level and time first (pino levels: 20 debug, 30 info), then the fields. */
function jsonLine(level: number, time: string, fields: object): string {
  return `{"level":${level},"time":"${time}",${JSON.stringify(fields).slice(1)}\n`;
}
