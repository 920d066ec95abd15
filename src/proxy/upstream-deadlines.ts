import { sweepPeriodForLimit, swapRemove } from './sweep.js';

/**
 * Where a forwarded exchange stands, which decides the limit that applies to it:
 * - `queued`: its client's share of the provider's pool is in use (upstream-shares.ts), so it
 *   waits for one of that client's own exchanges with the provider to end;
 * - `connecting`: dispatched, waiting for a provider connection: a new one dialled, or a pooled
 *   one to come free when every connection to the host is busy;
 * - `sending`: the request body is still going up (the client sets its pace), timed as a whole,
 *   since a client that sends a byte now and then would otherwise hold a provider connection for
 *   as long as it liked;
 * - `headers`: the request is sent, the provider's response headers are awaited;
 * - `body`: the response body is arriving;
 * - `paused`: the client's socket is full, so the provider is held back on purpose, for as long
 *   as limits.idleTimeout: a client that reads nothing for that long holds its provider
 *   connection no longer (an intercepted tunnel's socket times out the same way, gateway.ts).
 * `total`, when set, applies in every phase.
 */
export type ExchangePhase = 'queued' | 'connecting' | 'sending' | 'headers' | 'body' | 'paused';

/** An exchange the deadlines watch; forward.ts's relay. */
export interface WatchedExchange {
  phase: ExchangePhase;
  /** Tick of the exchange's dispatch. */
  startTick: number;
  /** Tick of the last sign of progress in the current phase. */
  progressTick: number;
  /** Where the deadlines keep it while they watch it, -1 otherwise: theirs to write. */
  watchSlot: number;
  /** Ends the exchange with `code`; `reason` names the limit. */
  expire(code: ExpiryCode, reason: string): void;
}

/** A limit the provider hop missed, or one the client missed while sending its body. */
export type ExpiryCode = 'UPSTREAM_TIMEOUT' | 'REQUEST_TIMEOUT';
type Expiry = readonly [code: ExpiryCode, reason: string];

/** Milliseconds; 0 turns a limit off (upstream.timeouts and limits.requestBodyTimeout in docs/config.md). */
export interface DeadlineLimits {
  readonly connect?: number | undefined;
  readonly headers: number;
  readonly body: number;
  readonly total?: number | undefined;
  /** The whole request body, from when it starts going up (limits.requestBodyTimeout). */
  readonly sending?: number | undefined;
  /** The client's silence while the response waits for room in its socket (limits.idleTimeout). */
  readonly paused?: number | undefined;
}

/** The sweep's period is the shortest limit's (sweep.ts). */
export function sweepPeriodMs(limits: DeadlineLimits): number | undefined {
  const set = [limits.connect ?? 0, limits.headers, limits.body, limits.total ?? 0, limits.sending ?? 0, limits.paused ?? 0].filter((ms) => ms > 0);
  if (set.length === 0) return undefined;
  return sweepPeriodForLimit(Math.min(...set));
}

/**
 * The provider hop's timeouts (upstream.timeouts: headers, body, total, and connect for each wait
 * before a connection is had: for the client's share, then for the connection), kept by one
 * sweep for every exchange instead of a timer per exchange. undici arms a timer object for each
 * phase of each request (headers, then body), and keeps its timers in a list it prunes every
 * 500 ms: under keep-alive load they outlived two young-generation collections, so V8 promoted
 * ~0.5 MB/s of them and ran a full mark-compact every second or two (trace-gc-nvp under the
 * anchors harness, docs/performance.md). Here an exchange costs an array slot, and progress
 * costs writing a number.
 *
 * An array with swap-removal, not a Set: V8 rebuilds a Set's table as entries come and go, and the
 * old table keeps the entries it held and a link to its successor (for iterators). Once a full
 * collection moved a current table to the old generation, the dead chain of tables after it kept
 * every exchange any of them held, with its request and response, alive through two scavenges:
 * ~15 MB survived each one at concurrency 16, and a mark-compact ran every half second
 * (trace-gc-nvp beside the floor, which survives ~0.2 MB; docs/performance.md).
 *
 * Time is counted in sweeps (ticks). A stamp taken at tick t means progress happened between
 * sweeps t and t+1, so at tick n at least (n - t - 1) periods have passed: a limit fires once that
 * reaches it, never early and at most two periods late.
 */
export class UpstreamDeadlines {
  /** Sweeps so far: the clock of every stamp. */
  private tick = 0;
  /** Each watched exchange at its watchSlot. */
  private readonly watched: WatchedExchange[] = [];
  private readonly timer: NodeJS.Timeout | undefined;
  readonly periodMs: number | undefined;

  /** `autoSweep: false` leaves the sweeping to the caller (tests drive sweep() themselves). */
  constructor(
    private readonly limits: DeadlineLimits,
    { autoSweep = true }: { autoSweep?: boolean } = {},
  ) {
    this.periodMs = sweepPeriodMs(limits);
    if (autoSweep && this.periodMs !== undefined) {
      this.timer = setInterval(() => this.sweep(), this.periodMs);
      this.timer.unref();
    }
  }

  watch(exchange: WatchedExchange): void {
    exchange.phase = 'connecting';
    exchange.startTick = exchange.progressTick = this.tick;
    if (exchange.watchSlot >= 0) return;
    exchange.watchSlot = this.watched.length;
    this.watched.push(exchange);
  }

  /** The exchange moved to `phase`; that phase's clock starts now. */
  enter(exchange: WatchedExchange, phase: ExchangePhase): void {
    exchange.phase = phase;
    exchange.progressTick = this.tick;
  }

  /** Bytes moved: the current phase's clock starts again, but for the request body's, which times it whole. */
  progress(exchange: WatchedExchange): void {
    if (exchange.phase !== 'sending') exchange.progressTick = this.tick;
  }

  forget(exchange: WatchedExchange): void {
    const slot = exchange.watchSlot;
    if (slot < 0) return;
    exchange.watchSlot = -1;
    const moved = swapRemove(this.watched, slot);
    if (moved) moved.watchSlot = slot;
  }

  get size(): number {
    return this.watched.length;
  }

  sweep(): void {
    const now = ++this.tick;
    // Found first, expired after: an expiry ends its exchange, which may end others and move slots.
    let overdue: [WatchedExchange, Expiry][] | undefined;
    for (const exchange of this.watched) {
      const expiry = this.overdue(exchange, now);
      if (expiry !== undefined) (overdue ??= []).push([exchange, expiry]);
    }
    for (const [exchange, [code, reason]] of overdue ?? []) {
      if (exchange.watchSlot < 0) continue;
      this.forget(exchange);
      exchange.expire(code, reason);
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private overdue(exchange: WatchedExchange, now: number): Expiry | undefined {
    const { connect = 0, headers, body, total = 0, sending = 0, paused = 0 } = this.limits;
    if (total > 0 && this.passed(exchange.startTick, now) >= total) return ['UPSTREAM_TIMEOUT', `no complete response within ${total} ms (upstream.timeouts.total)`];
    const inPhase = this.passed(exchange.progressTick, now);
    // The connector times its own dial; this also bounds the wait for a pooled connection to come
    // free, which undici does not time, so a request behind a full pool gets its 504 and its audit line.
    if (exchange.phase === 'queued' && connect > 0 && inPhase >= connect) return ['UPSTREAM_TIMEOUT', `no turn within ${connect} ms: the client's other requests to this provider held its whole share of the provider's connections (upstream.timeouts.connect)`];
    if (exchange.phase === 'connecting' && connect > 0 && inPhase >= connect) return ['UPSTREAM_TIMEOUT', `no connection to the provider within ${connect} ms (upstream.timeouts.connect)`];
    if (exchange.phase === 'sending' && sending > 0 && inPhase >= sending) return ['REQUEST_TIMEOUT', `the client did not send the whole request body within ${sending} ms (limits.requestBodyTimeout)`];
    if (exchange.phase === 'headers' && headers > 0 && inPhase >= headers) return ['UPSTREAM_TIMEOUT', `no response headers within ${headers} ms of the request (upstream.timeouts.headers)`];
    if (exchange.phase === 'body' && body > 0 && inPhase >= body) return ['UPSTREAM_TIMEOUT', `no body data for ${body} ms (upstream.timeouts.body)`];
    if (exchange.phase === 'paused' && paused > 0 && inPhase >= paused) return ['REQUEST_TIMEOUT', `the client read nothing of the response for ${paused} ms, with the rest waiting for room in its socket (limits.idleTimeout)`];
    return undefined;
  }

  /** Milliseconds that have surely passed since a stamp taken at `tick`. */
  private passed(tick: number, now: number): number {
    return (now - tick - 1) * this.periodMs!;
  }
}
