/**
 * Splits an origin-form request target (RFC 9112 section 3.2.1: `/path?query`) into decoded path
 * segments and query, refusing every form that two servers might read differently. The policy
 * matches decoded segments; the original bytes are what goes upstream, so nothing here rewrites.
 */

export const MAX_TARGET_LENGTH = 8192;

export type TargetResult =
  | { readonly ok: true; readonly segments: readonly string[]; readonly query: string | undefined }
  | { readonly ok: false; readonly code: 'MALFORMED_REQUEST' | 'AMBIGUOUS_PATH' | 'TARGET_TOO_LONG'; readonly reason: string };

// RFC 3986 pchar = unreserved / pct-encoded / sub-delims / ":" / "@", less ";" (see below).
const PATH_CHAR = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@%") {
  PATH_CHAR[c.charCodeAt(0)] = 1;
}
// Query: pchar / "/" / "?" (RFC 3986 section 3.4); clients also send raw ";" and "|" etc., which
// are harmless there, so only controls, space, DEL, "#" and non-ASCII are refused.
function isQueryChar(code: number): boolean {
  return code > 0x20 && code < 0x7f && code !== 0x23;
}

function fail(code: 'MALFORMED_REQUEST' | 'AMBIGUOUS_PATH' | 'TARGET_TOO_LONG', reason: string): TargetResult {
  return { ok: false, code, reason };
}

export function parseRequestTarget(target: string): TargetResult {
  if (target.length > MAX_TARGET_LENGTH) {
    return fail('TARGET_TOO_LONG', `request target is ${target.length} characters; the limit is ${MAX_TARGET_LENGTH}`);
  }
  if (target.charCodeAt(0) !== 0x2f) {
    return fail('MALFORMED_REQUEST', `request target ${JSON.stringify(clip(target))} does not start with "/"`);
  }
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? undefined : target.slice(q + 1);

  if (query !== undefined) {
    for (let i = 0; i < query.length; i++) {
      if (!isQueryChar(query.charCodeAt(i))) {
        return fail('MALFORMED_REQUEST', `query has a character that must be percent-encoded (${describeChar(query, i)})`);
      }
    }
  }

  const raw = path.slice(1).split('/');
  const segments: string[] = new Array(raw.length);
  for (let n = 0; n < raw.length; n++) {
    const seg = raw[n]!;
    const where = `path segment ${n + 1}`;
    if (seg.length === 0) {
      return fail('AMBIGUOUS_PATH', `${where} is empty ("//" or a trailing "/")`);
    }
    let hasPercent = false;
    for (let i = 0; i < seg.length; i++) {
      const c = seg.charCodeAt(i);
      if (c === 0x25) hasPercent = true;
      else if (c === 0x5c) return fail('AMBIGUOUS_PATH', `${where} has a raw backslash, which some servers read as "/"`);
      // Tomcat, Jetty and other Java servers strip ";params" from segments, so "..;" is a traversal.
      else if (c === 0x3b) return fail('AMBIGUOUS_PATH', `${where} has ";" (a path parameter, stripped by some servers)`);
      else if (c >= 128 || PATH_CHAR[c] !== 1) {
        return fail('MALFORMED_REQUEST', `${where} has a character that must be percent-encoded (${describeChar(seg, i)})`);
      }
    }
    const decoded = hasPercent ? decodeSegment(seg) : seg;
    if (decoded === undefined) {
      return fail('AMBIGUOUS_PATH', `${where} has an invalid percent-encoding or bytes that are not UTF-8`);
    }
    const problem = hasPercent ? decodedProblem(decoded) : undefined;
    if (problem) return fail('AMBIGUOUS_PATH', `${where} ${problem}`);
    if (decoded === '.' || decoded === '..') {
      return fail('AMBIGUOUS_PATH', `${where} is a dot segment${seg === decoded ? '' : ` (encoded as ${seg})`}`);
    }
    segments[n] = decoded;
  }
  return { ok: true, segments, query };
}

function decodeSegment(seg: string): string | undefined {
  try {
    return decodeURIComponent(seg);
  } catch {
    return undefined;
  }
}

function decodedProblem(decoded: string): string | undefined {
  for (let i = 0; i < decoded.length; i++) {
    const c = decoded.charCodeAt(i);
    if (c === 0x2f) return 'has an encoded "/" (%2F)';
    if (c === 0x5c) return 'has an encoded "\\" (%5C)';
    if (c === 0x3b) return 'has an encoded ";" (%3B)';
    if (c === 0x00) return 'has an encoded NUL (%00)';
    if (c < 0x20 || c === 0x7f) return 'has an encoded control character';
    // A "%" left after one decoding is double encoding (%252e): a server that decodes twice sees
    // something other than what was judged.
    if (c === 0x25) return 'is double percent-encoded (%25)';
  }
  return undefined;
}

function describeChar(s: string, i: number): string {
  const c = s.charCodeAt(i);
  if (c === 0) return 'NUL';
  if (c < 0x20 || c === 0x7f) return `control character 0x${c.toString(16).padStart(2, '0')}`;
  if (c === 0x20) return 'space';
  return JSON.stringify(s[i]);
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
