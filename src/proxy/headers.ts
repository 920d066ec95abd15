import { HeaderNameTable } from '../core/header-name.js';

/**
 * Header hygiene for the hop. RFC 9110 section 7.6.1: a proxy removes the hop-by-hop fields
 * and every field the Connection header names, in both directions. Host is not forwarded: for
 * absolute-form requests the proxy uses the target's authority (RFC 9112 section 3.2.2), and
 * undici derives Host from the origin it dials. `expect` goes too: Node's server already
 * answered 100-continue, and undici refuses the header.
 */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const NOT_FORWARDED_UPSTREAM: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'host', 'expect']);

/**
 * Response headers the audit may record: correlation IDs support asks for and rate-limit
 * state: Graph's request-id, client-request-id and x-ms-ags-diagnostic, Retry-After, and Okta's
 * X-Rate-Limit-* and X-Okta-Request-Id. An allowlist: nothing else is read out.
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
  'content-encoding',
]);

/** What the filter needs to know of a header name: whether it goes each way, and is audited. */
interface NameKind {
  readonly lower: string;
  readonly droppedUpstream: boolean;
  readonly droppedToClient: boolean;
  readonly audited: boolean;
}

const kinds = new HeaderNameTable<NameKind>((lower) => ({
  lower,
  droppedUpstream: NOT_FORWARDED_UPSTREAM.has(lower),
  droppedToClient: HOP_BY_HOP.has(lower),
  audited: AUDITED_RESPONSE_HEADERS.has(lower),
}));

function dropped(kind: NameKind, upstream: boolean): boolean {
  return upstream ? kind.droppedUpstream : kind.droppedToClient;
}

/** The names a Connection header lists (RFC 9110 section 7.6.1) that are not dropped anyway. */
function addListed(value: string, upstream: boolean, listed: Set<string> | undefined): Set<string> | undefined {
  for (let start = 0; start <= value.length; ) {
    let end = value.indexOf(',', start);
    if (end === -1) end = value.length;
    const token = value.slice(start, end).trim();
    start = end + 1;
    if (token === '') continue;
    const kind = kinds.of(token);
    if (!dropped(kind, upstream)) (listed ??= new Set()).add(kind.lower);
  }
  return listed;
}

/**
 * The fields that pass, in one pass over the raw list. A Connection header listing anything
 * but hop-by-hop names (`keep-alive`) is rare, so only then are the kept fields walked again
 * for the names it lists, wherever they came.
 */
function filter(raw: readonly string[], upstream: boolean, audited?: Record<string, string>): string[] {
  const out: string[] = [];
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const kind = kinds.of(raw[i]!);
    if (dropped(kind, upstream)) {
      if (kind.lower === 'connection') listed = addListed(raw[i + 1]!, upstream, listed);
      continue;
    }
    out.push(raw[i]!, raw[i + 1]!);
    if (audited && kind.audited) audited[kind.lower] = raw[i + 1]!.slice(0, 200);
  }
  if (!listed) return out;
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) {
    const name = kinds.of(out[i]!).lower;
    if (listed.has(name)) {
      if (audited) delete audited[name];
    } else {
      kept.push(out[i]!, out[i + 1]!);
    }
  }
  return kept;
}

/** The client's headers as they go to the provider: order, case and repeats kept. */
export function upstreamRequestHeaders(raw: readonly string[]): string[] {
  return filter(raw, true);
}

/**
 * The provider's headers as they go to the client (order and repeats kept: Okta's Link pages),
 * and, into `audited`, the ones the audit records (lower-cased names, values cut at 200).
 */
export function clientResponseHeaders(raw: readonly string[], audited?: Record<string, string>): string[] {
  return filter(raw, false, audited);
}

/** RFC 9112 section 6.3: a request has a body when it declares one. */
export function hasRequestBody(headers: { readonly 'content-length'?: string | undefined; readonly 'transfer-encoding'?: string | undefined }): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}
