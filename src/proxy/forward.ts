import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable, Writable } from 'node:stream';
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

/**
 * Response headers the audit may record: correlation IDs support asks for and rate-limit
 * state (reference/providers.md sections 7 and 11). An allowlist: nothing else is read out.
 */
export const AUDITED_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  'request-id',
  'client-request-id',
  'x-ms-ags-diagnostic',
  'retry-after',
  'x-rate-limit-limit',
  'x-rate-limit-remaining',
  'x-rate-limit-reset',
  'x-okta-request-id',
  'content-type',
]);

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
 * Streams one request to the provider and its response back, without buffering either body.
 * Status and headers pass through untouched (429 with Retry-After, repeated Link headers in
 * their order); only hop-by-hop fields are removed. Rejects with the upstream failure, which
 * the caller maps to a code; by then the response may have started.
 */
export async function forward(upstream: Upstream, req: IncomingMessage, res: ServerResponse, to: ForwardTarget, totalTimeoutMs: number): Promise<ForwardResult> {
  if (upstream.viaParent) await upstream.resolveVetted(to.host);
  const abort = new AbortController();
  const onClientGone = () => {
    if (!res.writableFinished) abort.abort(new UpstreamError('UPSTREAM_RESET', 'the client closed the connection'));
  };
  res.once('close', onClientGone);
  const timer =
    totalTimeoutMs > 0
      ? setTimeout(() => abort.abort(new UpstreamError('UPSTREAM_TIMEOUT', `no complete response within ${totalTimeoutMs} ms (upstream.timeouts.total)`)), totalTimeoutMs)
      : undefined;

  let status = 0;
  let bytesIn = 0;
  let bytesOut = 0;
  const responseHeaders: Record<string, string> = {};
  const requestPrefix = new Prefix(to.captureBytes);
  const responsePrefix = new Prefix(to.captureBytes);
  async function* countedBody(): AsyncGenerator<Buffer> {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      bytesIn += chunk.length;
      requestPrefix.add(chunk);
      yield chunk;
    }
  }
  // Writes straight into the client's response and reports its backpressure back to undici.
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      bytesOut += chunk.length;
      responsePrefix.add(chunk);
      if (res.write(chunk)) callback();
      else res.once('drain', () => callback());
    },
    final(callback) {
      res.end(callback);
    },
    destroy(err, callback) {
      if (err) res.destroy(err);
      callback(err);
    },
  });

  try {
    await upstream.dispatcher.stream(
      {
        origin: `https://${to.host}${to.port === 443 ? '' : `:${to.port}`}`,
        path: to.target,
        method: req.method as Dispatcher.HttpMethod,
        headers: upstreamRequestHeaders(req.rawHeaders),
        body: hasRequestBody(req.headers) ? Readable.from(countedBody(), { objectMode: false }) : null,
        responseHeaders: 'raw',
        signal: abort.signal,
      },
      ({ statusCode, headers }) => {
        status = statusCode;
        const raw = headers as unknown as string[];
        for (let i = 0; i < raw.length; i += 2) {
          const name = raw[i]!.toLowerCase();
          if (AUDITED_RESPONSE_HEADERS.has(name)) responseHeaders[name] = String(raw[i + 1]).slice(0, 200);
        }
        res.writeHead(statusCode, clientResponseHeaders(raw));
        return sink;
      },
    );
  } catch (err) {
    throw abort.signal.aborted && abort.signal.reason instanceof UpstreamError ? abort.signal.reason : err;
  } finally {
    if (timer) clearTimeout(timer);
    res.off('close', onClientGone);
  }
  return {
    status,
    bytesIn,
    bytesOut,
    upstreamAddress: upstream.addressOf(to.host),
    responseHeaders,
    requestBody: requestPrefix.value,
    responseBody: responsePrefix.value,
  };
}
