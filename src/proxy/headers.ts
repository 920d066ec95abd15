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

/** Names listed in Connection headers, lower-cased. */
function connectionListed(raw: readonly string[]): Set<string> {
  const listed = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') {
      for (const name of raw[i + 1]!.split(',')) listed.add(name.trim().toLowerCase());
    }
  }
  return listed;
}

function filter(raw: readonly string[], drop: ReadonlySet<string>): string[] {
  const listed = connectionListed(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!drop.has(name) && !listed.has(name)) out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

/** The client's headers as they go to the provider: order, case and repeats kept. */
export function upstreamRequestHeaders(raw: readonly string[]): string[] {
  return filter(raw, NOT_FORWARDED_UPSTREAM);
}

/** The provider's headers as they go to the client: order and repeats kept (Okta's Link pages). */
export function clientResponseHeaders(raw: readonly string[]): string[] {
  return filter(raw, HOP_BY_HOP);
}

/** RFC 9112 section 6.3: a request has a body when it declares one. */
export function hasRequestBody(headers: { readonly 'content-length'?: string | undefined; readonly 'transfer-encoding'?: string | undefined }): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}
