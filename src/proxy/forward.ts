import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { clientResponseHeaders, hasRequestBody, upstreamRequestHeaders } from './headers.js';
import { UpstreamError, type Upstream } from './upstream.js';

export interface ForwardTarget {
  readonly host: string;
  readonly port: number;
  /** The request target exactly as the client sent it: the bytes that were judged. */
  readonly target: string;
  /** Keep up to this many bytes of each body for the token-call audit; 0 keeps nothing. */
  readonly captureBytes: number;
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
  if (!Array.isArray(raw)) throw new UpstreamError('UPSTREAM_RESET', 'undici passed no raw response headers');
  const out = new Array<string>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const h: Buffer | string = raw[i]!;
    out[i] = typeof h === 'string' ? h : h.toString('latin1');
  }
  return out;
}

/**
 * Carries one provider response to the client as undici delivers it: status and headers, then
 * each chunk, pausing the provider connection while the client's socket is full. A dispatch
 * handler rather than `stream()`, which adds an AbortSignal, an AsyncResource, a Writable and
 * `finished()` listeners to every request: the switch took the gateway from 450-475 to 398-407
 * us of CPU per intercepted request (A/B of the two builds under bench:gateway's load).
 */
class ResponseRelay implements Dispatcher.DispatchHandler {
  status = 0;
  bytesOut = 0;
  readonly responseHeaders: Record<string, string> = {};
  readonly responsePrefix: Prefix;
  /**
   * Settles when the response has been handed to the client, or with the upstream failure.
   * Promise.withResolvers, not a settle arrow made inside the executor: with that arrow each
   * request's objects (its undici response headers, req, res) outlived V8's young-generation
   * collections and were promoted, ~3.5 MB/s at concurrency 1 and 5-15 ms scavenges; with this,
   * 0.5 ms and nothing promoted (--trace-gc under the anchors harness's load).
   */
  private readonly settled = Promise.withResolvers<void>();
  readonly done = this.settled.promise;
  private controller: Dispatcher.DispatchController | undefined;
  /** Why the exchange was cut short before undici handed over its controller. */
  private pendingAbort: Error | undefined;

  constructor(
    private readonly res: ServerResponse,
    captureBytes: number,
  ) {
    this.responsePrefix = new Prefix(captureBytes);
  }

  abort(reason: Error): void {
    if (this.controller) this.controller.abort(reason);
    else this.pendingAbort ??= reason;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.pendingAbort) controller.abort(this.pendingAbort);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number): void {
    // 1xx: Node's server has already answered Expect: 100-continue; nothing to relay.
    if (statusCode < 200) return;
    this.status = statusCode;
    this.res.writeHead(statusCode, clientResponseHeaders(rawHeaderStrings(controller.rawHeaders), this.responseHeaders));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytesOut += chunk.length;
    this.responsePrefix.add(chunk);
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.res.end();
    this.settled.resolve();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.settled.reject(err);
  }
}

/**
 * Streams one request to the provider and its response back, without buffering either body.
 * Status and headers pass through untouched (429 with Retry-After, repeated Link headers in
 * their order); only hop-by-hop fields are removed. Rejects with the upstream failure, which
 * the caller maps to a code; by then the response may have started.
 */
export async function forward(upstream: Upstream, req: IncomingMessage, res: ServerResponse, to: ForwardTarget, totalTimeoutMs: number): Promise<ForwardResult> {
  if (upstream.viaParent) await upstream.resolveVetted(to.host);
  let bytesIn = 0;
  const requestPrefix = new Prefix(to.captureBytes);
  async function* countedBody(): AsyncGenerator<Buffer> {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      bytesIn += chunk.length;
      requestPrefix.add(chunk);
      yield chunk;
    }
  }
  const relay = new ResponseRelay(res, to.captureBytes);
  const onClientGone = () => {
    if (!res.writableFinished) relay.abort(new UpstreamError('UPSTREAM_RESET', 'the client closed the connection'));
  };
  res.once('close', onClientGone);
  const timer =
    totalTimeoutMs > 0
      ? setTimeout(() => relay.abort(new UpstreamError('UPSTREAM_TIMEOUT', `no complete response within ${totalTimeoutMs} ms (upstream.timeouts.total)`)), totalTimeoutMs)
      : undefined;
  try {
    upstream.dispatcher.dispatch(
      {
        origin: `https://${to.host}${to.port === 443 ? '' : `:${to.port}`}`,
        path: to.target,
        method: req.method as Dispatcher.HttpMethod,
        headers: upstreamRequestHeaders(req.rawHeaders),
        body: hasRequestBody(req.headers) ? Readable.from(countedBody(), { objectMode: false }) : null,
      },
      relay,
    );
    await relay.done;
  } finally {
    clearTimeout(timer);
    res.off('close', onClientGone);
  }
  return {
    status: relay.status,
    bytesIn,
    bytesOut: relay.bytesOut,
    upstreamAddress: upstream.addressOf(to.host),
    responseHeaders: relay.responseHeaders,
    requestBody: requestPrefix.value,
    responseBody: relay.responsePrefix.value,
  };
}
