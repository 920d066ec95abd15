import { isIP, connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { DeliveryQueue, type DeliveryQueueLimits, type DropReason } from './delivery-queue.js';
import type { AuditNotice } from './notice.js';
import { octetCounted, syslogMessage, type AuditEntry, type SyslogIdentity } from './syslog-format.js';

export interface SyslogOptions {
  readonly host: string;
  readonly port: number;
  readonly transport: 'tcp' | 'tls';
  /** RFC 5425 §5: the collector is authenticated by its certificate; the client certificate is optional. */
  readonly tls?: { readonly ca?: string | undefined; readonly cert?: string | undefined; readonly key?: string | undefined; readonly serverName?: string | undefined } | undefined;
  readonly identity: SyslogIdentity;
  readonly queue: DeliveryQueueLimits;
  /**
   * Bytes written but not yet known to be read by the collector: the last this many are sent
   * again after a connection is lost (at-least-once). They cover what a broken connection can
   * hold, the sender's and the receiver's TCP buffers.
   */
  readonly replayWindowBytes: number;
  readonly connectTimeoutMs: number;
  /** Reconnect backoff: full jitter between 0 and min(maxMs, minMs * 2^attempts). */
  readonly backoff: { readonly minMs: number; readonly maxMs: number };
}

export interface SyslogCounters {
  readonly delivered: (events: number) => void;
  readonly dropped: (reason: DropReason, events: number) => void;
  readonly replayed: (events: number) => void;
}

const WRITE_CHUNK = 64 * 1024;
/**
 * A collector that reads nothing for this long while the gateway has lines for it is treated as
 * gone: the connection is dropped (the window is replayed) and made again. TCP keepalive cannot
 * tell a hung collector from a quiet one; its kernel still acknowledges.
 */
export const STALL_MS = 30_000;

/**
 * Audit delivery to a syslog collector over TCP or TLS, one connection, in order. Events are
 * framed as they arrive and queued (DeliveryQueue: memory, then disk); the request path never
 * waits: send() only queues. Frames written to the socket stay in a replay window until newer
 * bytes push them past what the two TCP buffers can hold, or a clean close confirms them.
 */
export class SyslogDelivery {
  private socket: Socket | TLSSocket | undefined;
  private connected = false;
  private closing = false;
  private attempts = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pumping = false;
  /** The socket's buffer is full: pump() resumes on its 'drain', not before. */
  private waitingForDrain = false;
  /** Written, not yet confirmed: oldest first, with their total size. */
  private unconfirmed: Buffer[] = [];
  private unconfirmedBytes = 0;
  private downSince: number | undefined = Date.now();
  private lastProblem: string | undefined;
  private readonly queue: DeliveryQueue;

  constructor(
    private readonly options: SyslogOptions,
    private readonly counters: SyslogCounters,
    private readonly notify: (notice: AuditNotice) => void,
  ) {
    this.queue = DeliveryQueue.open(options.queue, counters.dropped);
  }

  /** Connects; events queued before (and spooled by an earlier run) go first. */
  start(): void {
    const left = this.queue.length;
    if (left > 0) this.notify({ level: 'info', msg: 'syslog: events spooled by an earlier run are sent first', fields: { spooled: left } });
    this.connect();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Milliseconds the collector has been unreachable, 0 while connected. */
  downForMs(now = Date.now()): number {
    return this.downSince === undefined ? 0 : now - this.downSince;
  }

  get queuedInMemory(): number {
    return this.queue.memoryCount + this.unconfirmed.length;
  }

  get spooledEvents(): number {
    return this.queue.diskEvents;
  }

  get spooledBytes(): number {
    return this.queue.diskBytes;
  }

  send(entries: readonly AuditEntry[]): void {
    if (this.closing) return;
    for (const entry of entries) this.queue.push(octetCounted(syslogMessage(entry, this.options.identity)));
    this.pump();
  }

  /**
   * Sends what it can within the grace, closes the connection cleanly (which confirms what was
   * written), and writes what is left to the spool for the next start.
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    clearTimeout(this.reconnectTimer);
    const deadline = Date.now() + graceMs;
    while (this.connected && (this.queue.length > 0 || this.pumping) && Date.now() < deadline) await delay(10);
    const socket = this.socket;
    if (socket && this.connected && this.queue.length === 0) {
      // The collector closes its side once it has read ours to the end: every byte was read.
      const clean = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
        socket.once('end', () => {
          clearTimeout(timer);
          resolve(true);
        });
        socket.end();
      });
      if (clean) this.confirm(this.unconfirmed.length);
    }
    socket?.destroy();
    this.queue.prependToDisk(this.unconfirmed);
    this.unconfirmed = [];
    this.unconfirmedBytes = 0;
    this.queue.close();
  }

  /** The process is exiting without close(): what is not confirmed goes to the spool, synchronously. */
  spoolSync(): void {
    this.closing = true;
    this.socket?.destroy();
    this.queue.prependToDisk(this.unconfirmed);
    this.unconfirmed = [];
    this.unconfirmedBytes = 0;
    this.queue.close();
  }

  private connect(): void {
    const { host, port, transport, tls } = this.options;
    const socket =
      transport === 'tls'
        ? // SNI carries names only (RFC 6066 §3): an address target is checked against the certificate's IP SANs.
          tlsConnect({ host, port, servername: tls?.serverName ?? (isIP(host) ? undefined : host), ca: tls?.ca, cert: tls?.cert, key: tls?.key, minVersion: 'TLSv1.2' })
        : tcpConnect({ host, port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.setTimeout(this.options.connectTimeoutMs, () => socket.destroy(new Error(`no connection within ${this.options.connectTimeoutMs} ms`)));
    socket.once(transport === 'tls' ? 'secureConnect' : 'connect', () => {
      socket.setTimeout(0);
      this.connected = true;
      this.attempts = 0;
      const downFor = this.downForMs();
      this.downSince = undefined;
      this.lastProblem = undefined;
      this.notify({ level: 'info', msg: 'syslog: connected to the collector', fields: { collector: `${host}:${port}`, transport, downForMs: downFor, queued: this.queue.length } });
      this.pump();
    });
    // A collector sends nothing; reading keeps 'end' (its close) observable.
    socket.on('data', () => {});
    socket.once('end', () => {
      if (!this.closing) socket.destroy();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const problem = describe(err, this.options);
      if (problem !== this.lastProblem) this.notify({ level: 'error', msg: `syslog: ${problem}`, fields: { collector: `${host}:${port}`, code: err.code } });
      this.lastProblem = problem;
    });
    socket.once('close', () => {
      if (this.socket !== socket) return;
      const wasConnected = this.connected;
      this.connected = false;
      this.waitingForDrain = false;
      this.socket = undefined;
      if (this.closing) return;
      if (wasConnected) {
        this.downSince = Date.now();
        // What the collector may not have read goes again, ahead of everything queued.
        if (this.unconfirmed.length > 0) this.counters.replayed(this.unconfirmed.length);
        this.queue.unshift(this.unconfirmed);
        this.unconfirmed = [];
        this.unconfirmedBytes = 0;
        if (this.lastProblem === undefined) {
          this.lastProblem = 'the collector closed the connection';
          this.notify({ level: 'error', msg: `syslog: ${this.lastProblem}`, fields: { collector: `${host}:${port}` } });
        }
      }
      const { minMs, maxMs } = this.options.backoff;
      const cap = Math.min(maxMs, minMs * 2 ** this.attempts++);
      this.reconnectTimer = setTimeout(() => this.connect(), minMs + Math.random() * (cap - minMs)).unref();
    });
  }

  /** Writes queued frames while the socket takes them; resumes on 'drain'. */
  private pump(): void {
    const socket = this.socket;
    if (this.pumping || this.waitingForDrain || !this.connected || !socket) return;
    this.pumping = true;
    let more = true;
    while (more && this.connected && this.queue.length > 0) {
      const frames = this.queue.take(WRITE_CHUNK);
      more = socket.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
      for (const f of frames) {
        this.unconfirmed.push(f);
        this.unconfirmedBytes += f.length;
      }
      let confirmed = 0;
      while (confirmed < this.unconfirmed.length && this.unconfirmedBytes - this.unconfirmed[confirmed]!.length >= this.options.replayWindowBytes) {
        this.unconfirmedBytes -= this.unconfirmed[confirmed++]!.length;
      }
      if (confirmed > 0) this.confirm(confirmed, false);
    }
    this.pumping = false;
    if (!more && this.connected) {
      this.waitingForDrain = true;
      const stalled = setTimeout(() => socket.destroy(Object.assign(new Error(`the collector read nothing for ${STALL_MS / 1000} s`), { code: 'ESTALLED' })), STALL_MS).unref();
      socket.once('drain', () => {
        clearTimeout(stalled);
        this.waitingForDrain = false;
        this.pump();
      });
      socket.once('close', () => clearTimeout(stalled));
    }
  }

  private confirm(n: number, adjustBytes = true): void {
    const gone = this.unconfirmed.splice(0, n);
    if (adjustBytes) for (const f of gone) this.unconfirmedBytes -= f.length;
    this.counters.delivered(gone.length);
  }
}

/** The connection problem in the words an operator needs, with the setting that fixes it. */
function describe(err: NodeJS.ErrnoException, o: SyslogOptions): string {
  const at = `${o.host}:${o.port}`;
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED') return `the collector at ${at} refused the connection (nothing listens there; is it running?)`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot resolve the collector's name ${o.host} (${code})`;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT_ALTNAME/.test(code)) {
    return `the collector at ${at} presented a certificate the gateway does not trust (${code}: ${err.message}); set log.syslog.tls.ca to the CA that issued it, and log.syslog.tls.serverName if it names the collector otherwise`;
  }
  if (code === 'ESTALLED') return `the collector at ${at} stopped reading (${err.message}); reconnecting`;
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS')) return `TLS with the collector at ${at} failed (${code}: ${err.message}); is it a TLS listener (RFC 5425, usually port 6514)?`;
  return `the connection to the collector at ${at} failed (${code || err.message})`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
