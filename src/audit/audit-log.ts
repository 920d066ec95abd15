import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type DestinationStream, type Logger } from 'pino';
import { outcomeDecision, type Outcome } from '../proxy/gateway.js';

/**
 * One audit event: a JSON line per request, CONNECT or tunnel (docs/audit.md). Built field by
 * field from the outcome, so nothing that is not named here can reach the log: no header values
 * but the allowlisted response ones, no bodies, no query secrets (already redacted in the URL).
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
}

/** The audit log: pino writing asynchronously to stdout and/or a file, flushed on close. */
export class AuditLog {
  private constructor(
    readonly logger: Logger,
    /** One closer per destination: each kind ends differently. */
    private readonly closers: (() => Promise<void>)[],
  ) {}

  static async open(options: AuditLogOptions): Promise<AuditLog> {
    const streams: { stream: DestinationStream; close: () => Promise<void> }[] = [];
    if (options.stdout) {
      if (options.stdoutStream) streams.push({ stream: options.stdoutStream, close: async () => flushSonicBoom(options.stdoutStream!) });
      else streams.push(batched(pino.destination({ dest: 1, sync: false, minLength: BATCH_BYTES })));
    }
    if (options.file) {
      mkdirSync(dirname(options.file), { recursive: true });
      if (options.rotate && (options.rotate.size || options.rotate.frequency)) {
        // pino-roll runs in a worker thread; it rotates by size (soft limit) and/or time.
        const t = pino.transport({
          target: 'pino-roll',
          options: {
            file: options.file,
            ...(options.rotate.size ? { size: `${Math.ceil(options.rotate.size / 1024)}k` } : {}),
            ...(options.rotate.frequency ? { frequency: options.rotate.frequency } : {}),
            limit: { count: options.rotate.keep },
            mkdir: true,
          },
        });
        // A transport is flushed by ending it: the worker drains, closes its file, then 'close'.
        streams.push({
          stream: t,
          close: () =>
            new Promise<void>((resolve) => {
              t.once('close', () => resolve());
              t.end();
            }),
        });
      } else {
        const d = pino.destination({ dest: options.file, sync: false, mkdir: true, minLength: BATCH_BYTES });
        // flushSync before 'ready' throws (sonic-boom), so the file is open before serving.
        await new Promise<void>((resolve, reject) => {
          d.once('ready', () => resolve());
          d.once('error', reject);
        });
        streams.push(batched(d));
      }
    }
    const level = options.level === 'debug' ? 'debug' : 'info';
    const logger = pino(
      { level, base: null, timestamp: pino.stdTimeFunctions.isoTime },
      streams.length === 1 ? streams[0]!.stream : pino.multistream(streams.map((s) => ({ stream: s.stream, level })))
    );
    return new AuditLog(logger, streams.map((s) => s.close));
  }

  record(o: Outcome): void {
    this.logger.info(auditEvent(o));
    // Header names only, never values: enough to see what a client sends.
    if (o.requestHeaderNames) this.logger.debug({ id: o.id, requestHeaders: o.requestHeaderNames }, 'request header names');
  }

  /** Writes what is buffered and closes the destinations; every completed request is on disk after this. */
  async close(): Promise<void> {
    for (const close of this.closers) await close();
  }
}

/**
 * Lines go out in batches: when BATCH_BYTES are buffered, or FLUSH_MS after the first line still
 * in memory. Written one by one, each line was its own libuv threadpool round trip, ~15% of the
 * gateway's intercept throughput at concurrency 16 (bench:gateway, with and without the audit).
 * What a batch risks is FLUSH_MS of lines on SIGKILL: a normal exit, an uncaught exception and
 * close() all flush synchronously (pino registers the exit hook on its destinations).
 */
const BATCH_BYTES = 8 * 1024;
const FLUSH_MS = 50;

function batched(destination: DestinationStream & { flush(cb?: (err?: Error) => void): void }): { stream: DestinationStream; close: () => Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    destination.flush(() => undefined);
  };
  return {
    stream: {
      write(line: string) {
        const more = destination.write(line);
        if (!timer) timer = setTimeout(flush, FLUSH_MS).unref();
        return more;
      },
    } as DestinationStream,
    close: async () => {
      clearTimeout(timer);
      flushSonicBoom(destination);
    },
  };
}

/** sonic-boom (pino.destination): flushSync throws before 'ready'; then there is nothing to flush. */
function flushSonicBoom(stream: DestinationStream): void {
  const s = stream as { flushSync?: () => void };
  try {
    s.flushSync?.();
  } catch {
    // not ready: nothing was written yet
  }
}
