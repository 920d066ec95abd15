/**
 * Requests that a server behind the gateway could read two ways are refused before they are
 * judged, never forwarded: the upstream pool is shared by every client, so one ambiguous request
 * could desynchronise it for the others (request smuggling, RFC 9112 section 11.2), and a
 * decision on method, path and host is void if the provider re-reads them from a header.
 */

import { HeaderNameTable } from '../core/header-name.js';

export interface RequestShape {
  readonly method: string;
  /** `1.1` or `1.0`, as Node's parser read it. */
  readonly httpVersion: string;
  /** Names and values alternating, as received (Node's rawHeaders). */
  readonly rawHeaders: readonly string[];
}

export interface ShapeProblem {
  readonly code: 'MALFORMED_REQUEST' | 'AMBIGUOUS_REQUEST' | 'OVERRIDE_HEADER_NOT_ALLOWED';
  readonly reason: string;
}

/**
 * Methods whose content has defined semantics (RFC 9110 sections 9.3.3, 9.3.4; RFC 5789). A body
 * on any other (GET, HEAD, DELETE, OPTIONS, ...) has none (RFC 9110 section 9.3.1): a front end
 * that ignores it would run the body as the next request on the connection (CL.0).
 */
const METHODS_WITH_CONTENT: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH']);

/**
 * Headers that ask a server to act on another method, path, host or scheme than the one in the
 * request line: method overrides (Google's MethodOverride, OData's X-HTTP-Method), path rewrites
 * (IIS and Symfony's X-Original-URL, CVE-2018-14773) and forwarding headers (RFC 7239, and the
 * X-Forwarded-* family ASP.NET Core and Spring rebuild a request from). User Sync sends none of them; Google's Java
 * client sends X-HTTP-Method-Override only when an app installs its MethodOverride initializer.
 */
const OVERRIDE_HEADERS: ReadonlySet<string> = new Set([
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-original-url',
  'x-rewrite-url',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-prefix',
  'x-forwarded-server',
  'forwarded',
]);

/** The headers the shape check counts, by what they are to it. */
const shapeHeaders = new HeaderNameTable((lower) =>
  lower === 'host' || lower === 'content-length' || lower === 'transfer-encoding' ? lower : OVERRIDE_HEADERS.has(lower) ? 'override' : 'other',
);

export function requestShapeProblem(r: RequestShape): ShapeProblem | undefined {
  let hosts = 0;
  let contentLength: string | undefined;
  let transferEncoding = false;
  const raw = r.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const kind = shapeHeaders.of(raw[i]!);
    if (kind === 'other') continue;
    if (kind === 'host') hosts++;
    else if (kind === 'content-length') contentLength = raw[i + 1];
    else if (kind === 'transfer-encoding') transferEncoding = true;
    else {
      return { code: 'OVERRIDE_HEADER_NOT_ALLOWED', reason: `the request carries ${raw[i]}, which asks a server to act on another method, path or host than the one judged` };
    }
  }
  // RFC 9112 section 3.2: 400 for an HTTP/1.1 request without Host, or with more than one.
  if (hosts > 1) return { code: 'AMBIGUOUS_REQUEST', reason: `the request has ${hosts} Host headers; servers disagree on which one counts (RFC 9112 section 3.2)` };
  if (hosts === 0 && r.httpVersion !== '1.0') return { code: 'MALFORMED_REQUEST', reason: 'an HTTP/1.1 request needs a Host header (RFC 9112 section 3.2)' };
  if (!METHODS_WITH_CONTENT.has(r.method) && (transferEncoding || (contentLength !== undefined && !/^0+$/.test(contentLength)))) {
    const how = transferEncoding ? 'Transfer-Encoding' : `Content-Length: ${contentLength}`;
    return { code: 'AMBIGUOUS_REQUEST', reason: `a ${r.method} request carries a body (${how}); ${r.method} content has no meaning (RFC 9110 section 9.3.1) and a server that ignores it would read it as the next request` };
  }
  return undefined;
}
