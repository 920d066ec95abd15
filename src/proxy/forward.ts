import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { clientResponseHeaders, hasRequestBody, upstreamRequestHeaders } from './headers.js';
import type { ExchangePhase, ExpiryCode, WatchedExchange } from './upstream-deadlines.js';
import { shareKey, type ShareHolder } from './upstream-shares.js';
import { ExchangeError, type Upstream } from './upstream.js';

export interface ForwardTarget {
  readonly host: string;
  readonly port: number;
  /** The request target exactly as the client sent it: the bytes that were judged. */
  readonly target: string;
  /** Keep up to this many bytes of each body for the token-call audit; 0 keeps nothing. */
  readonly captureBytes: number;
  /** Who the exchange counts against in the provider pool's shares (connections.ts clientKey). */
  readonly client: string;
}

export interface ForwardResult {
  readonly status: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly upstreamAddress: string | undefined;
  readonly responseHeaders: Readonly<Record<string, string>>;
  /** The first captureBytes of each body, for token calls only. */
  readonly requestBody: Buffer | undefined;
  readonly responseBody: Buffer | undefined;
}

/** Collects at most `limit` bytes of a stream's chunks, for the token-call audit. */
class Prefix {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly limit: number) {}
  add(chunk: Buffer): void {
    if (this.size >= this.limit) return;
    const part = chunk.subarray(0, this.limit - this.size);
    this.chunks.push(part);
    this.size += part.length;
  }
  get value(): Buffer | undefined {
    return this.limit > 0 ? Buffer.concat(this.chunks) : undefined;
  }
}

/**
 * The response headers as received, names and values alternating. latin1 maps each byte to one
 * character, and Node writes such a string back as the same bytes.
 */
function rawHeaderStrings(raw: Dispatcher.DispatchController['rawHeaders']): string[] {
  if (!Array.isArray(raw)) throw new ExchangeError('UPSTREAM_RESET', 'undici passed no raw response headers');
  const out = new Array<string>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const h: Buffer | string = raw[i]!;
    out[i] = typeof h === 'string' ? h : h.toString('latin1');
  }
  return out;
}

/** A forwarded exchange as its caller holds it. */
export interface ForwardedExchange {
  /** Ends the exchange with `reason` (an ExchangeError's code), once; undici then drops the provider's request. */
  abort(reason: Error): void;
  /** It has ended (and `done` has been called): a dispatch that threw ends it before forward() returns. */
  readonly over: boolean;
}

/** How a forwarded exchange ended: its result, or the upstream failure (the response may have started). */
export type ForwardDone = (err: Error | undefined, result: ForwardResult | undefined) => void;

/**
 * Carries one provider response to the client as undici delivers it: status and headers, then
 * each chunk, pausing the provider connection while the client's socket is full. A dispatch
 * handler rather than `stream()`, which adds an AbortSignal, an AsyncResource, a Writable and
 * `finished()` listeners to every request: the switch took the gateway from 450-475 to 398-407
 * us of CPU per intercepted request (A/B of the two builds under bench:gateway's load).
 *
 * It ends the exchange through a callback, not a promise: a promise here once kept every
 * request's objects alive through V8's young-generation collections (a settle arrow made in the
 * executor: 5-15 ms scavenges, ~3.5 MB/s promoted at concurrency 1, where the floor promotes
 * nothing; bench:gateway's GC rows watch for it), and with the async functions around it cost
 * three promises and their jobs per request (bench:instructions: ~1 % of the main thread).
 *
 * Its timeouts are the upstream deadlines' (src/proxy/upstream-deadlines.ts): the relay tells
 * them which phase the exchange is in and stamps each sign of progress. It goes to the provider
 * within its client's share of the provider's pool (src/proxy/upstream-shares.ts).
 */
class ResponseRelay implements Dispatcher.DispatchHandler, WatchedExchange, ShareHolder, ForwardedExchange {
  status = 0;
  bytesOut = 0;
  bytesIn = 0;
  readonly responseHeaders: Record<string, string> = {};
  readonly requestPrefix: Prefix;
  readonly responsePrefix: Prefix;
  phase: ExchangePhase = 'connecting';
  startTick = 0;
  progressTick = 0;
  watchSlot = -1;
  /** The request body has not all gone up yet. */
  sendingBody = false;
  private controller: Dispatcher.DispatchController | undefined = undefined;
  /** Why the exchange was cut short before undici handed over its controller. */
  private pendingAbort: Error | undefined = undefined;
  private ended = false;
  /** It took a place in its client's share, which end() gives back. */
  private sharing = false;
  private readonly origin: string;
  private readonly share: string;

  constructor(
    private readonly upstream: Upstream,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly to: ForwardTarget,
    private readonly done: ForwardDone,
  ) {
    this.requestPrefix = new Prefix(to.captureBytes);
    this.responsePrefix = new Prefix(to.captureBytes);
    this.origin = `https://${to.host}${to.port === 443 ? '' : `:${to.port}`}`;
    this.share = shareKey(to.client, this.origin);
  }

  /** Goes to the provider now if its client has room in its share of the pool, or waits its turn. */
  queue(): void {
    this.sharing = true;
    if (this.upstream.shares.take(this.share, this)) this.start();
    else this.upstream.deadlines.enter(this, 'queued');
  }

  start(): void {
    this.upstream.deadlines.enter(this, 'connecting');
    try {
      this.upstream.dispatcher.dispatch(
        {
          origin: this.origin,
          path: this.to.target,
          method: this.req.method as Dispatcher.HttpMethod,
          headers: upstreamRequestHeaders(this.req.rawHeaders),
          body: this.sendingBody ? Readable.from(countedBody(this.req, this), { objectMode: false }) : null,
        },
        this,
      );
    } catch (err) {
      this.end(err as Error);
    }
  }

  /** The client's side closed: before the response was complete, that ends the exchange. */
  readonly onClientClose = (): void => {
    if (!this.res.writableFinished) this.abort(new ExchangeError('CLIENT_CLOSED', 'the client closed the connection before the response was complete'));
  };

  abort(reason: Error): void {
    if (this.controller) return this.controller.abort(reason);
    // Not on a connection yet (waiting for its client's share, behind a full pool, or its name
    // still being vetted). end() takes it out of the share's queue; undici cannot take a queued
    // request back, so onRequestStart refuses it when it gets one. Either way the client has its
    // answer now rather than when a connection comes free.
    this.pendingAbort ??= reason;
    this.end(reason);
  }

  expire(code: ExpiryCode, reason: string): void {
    this.abort(new ExchangeError(code, reason));
  }

  /** The last of the request body went up: the sending phase ends (its limit times it whole). */
  bodySent(): void {
    this.sendingBody = false;
    if (this.phase === 'sending') this.upstream.deadlines.enter(this, 'headers');
  }

  get over(): boolean {
    return this.ended;
  }

  /** Why the exchange ended before it was dispatched, if it did. */
  get cutShort(): Error | undefined {
    return this.pendingAbort;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.pendingAbort) return controller.abort(this.pendingAbort);
    this.upstream.deadlines.enter(this, this.sendingBody ? 'sending' : 'headers');
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number): void {
    // 1xx: Node's server has already answered Expect: 100-continue; nothing to relay.
    if (statusCode < 200) return this.upstream.deadlines.progress(this);
    this.upstream.deadlines.enter(this, 'body');
    this.status = statusCode;
    this.res.writeHead(statusCode, clientResponseHeaders(rawHeaderStrings(controller.rawHeaders), this.responseHeaders));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytesOut += chunk.length;
    this.responsePrefix.add(chunk);
    this.upstream.deadlines.progress(this);
    if (!this.res.write(chunk)) {
      // A slow client holds the provider back on purpose: no body timeout while it drains.
      this.upstream.deadlines.enter(this, 'paused');
      controller.pause();
      this.res.once('drain', () => {
        this.upstream.deadlines.enter(this, 'body');
        controller.resume();
      });
    }
  }

  onResponseEnd(): void {
    this.res.end();
    this.end(undefined);
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    this.end(err);
  }

  /** Once: undici reports an error after an abort, and the client may close after the end. */
  end(err: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.upstream.deadlines.forget(this);
    if (this.sharing) this.upstream.shares.give(this.share, this);
    this.res.off('close', this.onClientClose);
    if (err) return this.done(err, undefined);
    this.done(undefined, {
      status: this.status,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      upstreamAddress: this.upstream.addressOf(this.to.host),
      responseHeaders: this.responseHeaders,
      requestBody: this.requestPrefix.value,
      responseBody: this.responsePrefix.value,
    });
  }
}

/**
 * Streams one request to the provider and its response back, without buffering either body.
 * Status and headers pass through untouched (429 with Retry-After, repeated Link headers in
 * their order); only hop-by-hop fields are removed. Calls `done` once, with the result or the
 * upstream failure, which the caller maps to a code; by then the response may have started.
 * Returns the exchange, which the caller may cut short with a reason of its own (a refused body).
 */
export function forward(upstream: Upstream, req: IncomingMessage, res: ServerResponse, to: ForwardTarget, done: ForwardDone): ForwardedExchange {
  const relay = new ResponseRelay(upstream, req, res, to, done);
  res.on('close', relay.onClientClose);
  // Through a parent proxy, the gateway vets its own resolution before the parent makes its own.
  if (upstream.viaParent) {
    upstream.resolveVetted(to.host).then(
      () => dispatch(upstream, req, relay),
      (err: Error) => relay.end(err),
    );
  } else {
    dispatch(upstream, req, relay);
  }
  return relay;
}

function dispatch(upstream: Upstream, req: IncomingMessage, relay: ResponseRelay): void {
  // A client that left while its provider's name was being vetted: nothing goes to the provider.
  if (relay.cutShort) return relay.end(relay.cutShort);
  relay.sendingBody = hasRequestBody(req.headers);
  upstream.deadlines.watch(relay);
  relay.queue();
}

/** The request body as it goes upstream, counted, and its first bytes kept for a token call's audit. */
async function* countedBody(req: IncomingMessage, relay: ResponseRelay): AsyncGenerator<Buffer> {
  for await (const chunk of req as AsyncIterable<Buffer>) {
    relay.bytesIn += chunk.length;
    relay.requestPrefix.add(chunk);
    yield chunk;
  }
  relay.bodySent();
}
