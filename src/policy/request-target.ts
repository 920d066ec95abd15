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
// The one list both the per-character table and the fast expressions are built from.
const PATH_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@%";
const PATH_CHAR = new Uint8Array(128);
for (const c of PATH_CHARS) PATH_CHAR[c.charCodeAt(0)] = 1;
const PATH_CHAR_CLASS = `[${PATH_CHARS.replace(/[-\\\]^]/g, '\\$&')}]`;
/** What isQueryChar accepts, as a character class. */
const QUERY_CHAR_CLASS = '[\\x21\\x22\\x24-\\x7e]';
const PLAIN_QUERY = new RegExp(`^${QUERY_CHAR_CLASS}*$`);
/** One or more segments of PATH_CHARS, none empty. */
const PCHAR_SEGMENTS = new RegExp(`^(?:/${PATH_CHAR_CLASS}+)+$`);
/** The same path, then optionally a query of PLAIN_QUERY characters. */
const PLAIN_TARGET = new RegExp(`^(?:/${PATH_CHAR_CLASS}+)+(?:\\?${QUERY_CHAR_CLASS}*)?$`);

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
  const query = q === -1 ? undefined : target.slice(q + 1);
  // The common case in one test: plain pchar segments, and a query without a character to refuse.
  if (PLAIN_TARGET.test(target)) {
    const segments: string[] = [];
    return splitAtSlashes(target, q === -1 ? target.length : q, segments) ?? { ok: true, segments, query };
  }
  const path = q === -1 ? target : target.slice(0, q);

  if (query !== undefined && !PLAIN_QUERY.test(query)) {
    for (let i = 0; i < query.length; i++) {
      if (!isQueryChar(query.charCodeAt(i))) {
        return fail('MALFORMED_REQUEST', `query has a character that must be percent-encoded (${describeChar(query, i)})`);
      }
    }
  }

  const segments: string[] = [];
  const problem = PCHAR_SEGMENTS.test(path) ? splitAtSlashes(path, path.length, segments) : splitCheckingEachCharacter(path, segments);
  return problem ?? { ok: true, segments, query };
}

/**
 * The common case: every character already known to be a pchar and no segment empty, so the
 * path is split at its slashes by indexOf instead of by looking at each character in script.
 */
function splitAtSlashes(path: string, end: number, segments: string[]): TargetResult | undefined {
  let percent = path.indexOf('%');
  for (let from = 1; ; ) {
    let slash = path.indexOf('/', from);
    if (slash >= end) slash = -1;
    const to = slash === -1 ? end : slash;
    const hasPercent = percent !== -1 && percent < to;
    if (hasPercent) percent = path.indexOf('%', to);
    const problem = addSegment(segments, path, from, to, hasPercent);
    if (problem || slash === -1) return problem;
    from = slash + 1;
  }
}

/** One pass that finds and names the first thing wrong with a path the fast check refused. */
function splitCheckingEachCharacter(path: string, segments: string[]): TargetResult | undefined {
  let start = 1;
  let hasPercent = false;
  for (let i = 1; i <= path.length; i++) {
    const c = i === path.length ? 0x2f : path.charCodeAt(i);
    if (c === 0x2f) {
      const problem = addSegment(segments, path, start, i, hasPercent);
      if (problem) return problem;
      start = i + 1;
      hasPercent = false;
    } else if (c === 0x25) hasPercent = true;
    else if (c >= 128 || PATH_CHAR[c] !== 1) return badPathChar(path, i, segments.length + 1);
  }
  return undefined;
}

function addSegment(segments: string[], path: string, from: number, to: number, hasPercent: boolean): TargetResult | undefined {
  if (from === to) return fail('AMBIGUOUS_PATH', `${segmentName(segments)} is empty ("//" or a trailing "/")`);
  const seg = path.slice(from, to);
  const decoded = hasPercent ? decodeSegment(seg) : seg;
  if (typeof decoded !== 'string') return fail('AMBIGUOUS_PATH', `${segmentName(segments)} ${decoded.problem}`);
  if (decoded === '.' || decoded === '..') {
    return fail('AMBIGUOUS_PATH', `${segmentName(segments)} is a dot segment${seg === decoded ? '' : ` (encoded as ${seg})`}`);
  }
  segments.push(decoded);
  return undefined;
}

/** The segment being added, for a refusal's reason. */
function segmentName(segments: readonly string[]): string {
  return `path segment ${segments.length + 1}`;
}

function badPathChar(path: string, i: number, segment: number): TargetResult {
  const c = path.charCodeAt(i);
  const where = `path segment ${segment}`;
  if (c === 0x5c) return fail('AMBIGUOUS_PATH', `${where} has a raw backslash, which some servers read as "/"`);
  // Tomcat, Jetty and other Java servers strip ";params" from segments, so "..;" is a traversal.
  if (c === 0x3b) return fail('AMBIGUOUS_PATH', `${where} has ";" (a path parameter, stripped by some servers)`);
  return fail('MALFORMED_REQUEST', `${where} has a character that must be percent-encoded (${describeChar(path, i)})`);
}

/**
 * Percent-decodes one segment, refusing escapes that would change how servers split or read the
 * path. ASCII escapes (the usual %23, %40, %24) are decoded here; a segment with any escape of
 * 0x80 or above goes to decodeURIComponent, which also rejects bytes that are not UTF-8 (overlong
 * forms such as %c0%af included).
 */
function decodeSegment(seg: string): string | { problem: string } {
  let out = '';
  let from = 0;
  let utf8 = false;
  for (let i = seg.indexOf('%'); i !== -1; i = seg.indexOf('%', from)) {
    const hi = hexValue(seg.charCodeAt(i + 1));
    const lo = hexValue(seg.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) return { problem: 'has an invalid percent-encoding' };
    const byte = hi * 16 + lo;
    const problem = escapeProblem(byte);
    if (problem) return { problem };
    if (byte >= 0x80) utf8 = true;
    out += seg.slice(from, i) + String.fromCharCode(byte);
    from = i + 3;
  }
  if (!utf8) return out + seg.slice(from);
  try {
    return decodeURIComponent(seg);
  } catch {
    return { problem: 'has percent-encoded bytes that are not UTF-8' };
  }
}

function escapeProblem(byte: number): string | undefined {
  if (byte === 0x2f) return 'has an encoded "/" (%2F)';
  if (byte === 0x5c) return 'has an encoded "\\" (%5C)';
  if (byte === 0x3b) return 'has an encoded ";" (%3B)';
  if (byte === 0x00) return 'has an encoded NUL (%00)';
  if (byte < 0x20 || byte === 0x7f) return 'has an encoded control character';
  // An escaped "%" is double encoding (%252e): a server that decodes twice sees something other
  // than what was judged.
  if (byte === 0x25) return 'is double percent-encoded (%25)';
  return undefined;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
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
