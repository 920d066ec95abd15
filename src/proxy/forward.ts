import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { clientResponseHeaders, hasRequestBody, upstreamRequestHeaders } from './headers.js';
import { UpstreamError, type Upstream } from './upstream.js';

export interface ForwardTarget {
  readonly host: string;
  readonly port: number;
  /** The request target exactly as the client sent it: the bytes that were judged. */
  readonly target: string;
}

export interface ForwardResult {
  readonly status: number;
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
  try {
    await upstream.dispatcher.stream(
      {
        origin: `https://${to.host}${to.port === 443 ? '' : `:${to.port}`}`,
        path: to.target,
        method: req.method as Dispatcher.HttpMethod,
        headers: upstreamRequestHeaders(req.rawHeaders),
        body: hasRequestBody(req.headers) ? req : null,
        responseHeaders: 'raw',
        signal: abort.signal,
      },
      ({ statusCode, headers }) => {
        status = statusCode;
        res.writeHead(statusCode, clientResponseHeaders(headers as unknown as string[]));
        return res;
      },
    );
  } catch (err) {
    throw abort.signal.aborted && abort.signal.reason instanceof UpstreamError ? abort.signal.reason : err;
  } finally {
    if (timer) clearTimeout(timer);
    res.off('close', onClientGone);
  }
  return { status };
}
