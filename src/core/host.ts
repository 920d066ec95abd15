import { domainToASCII } from 'node:url';

export type HostResult =
  | { readonly ok: true; readonly host: string }
  | { readonly ok: false; readonly code: 'IP_LITERAL_NOT_ALLOWED' | 'HOST_NOT_ALLOWED'; readonly reason: string };

const MAX_HOST_LENGTH = 253;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const NUMERIC_LABEL = /^(?:0[xX][0-9a-fA-F]*|[0-9]+)$/;

/**
 * Brings a host to the one form rules are written in: lower case, IDNA A-labels (UTS #46 via
 * WHATWG `domainToASCII`), one trailing dot removed. Anything an HTTP client or resolver could
 * read as an IP address is reported as such, because WHATWG URL parsing turns `2130706433`,
 * `0x7f.1` and `127.1` into 127.0.0.1 (WHATWG URL "ends in a number" rule).
 */
export function normaliseHost(raw: string): HostResult {
  if (isCanonical(raw)) return { ok: true, host: raw };
  const cached = cache.get(raw);
  if (cached) return cached;
  const result = normaliseUncached(raw);
  // Provider hosts repeat on every call; arbitrary hosts from clients only churn a bounded map.
  if (cache.size >= HOST_CACHE_SIZE) cache.clear();
  cache.set(raw, result);
  return result;
}

const HOST_CACHE_SIZE = 4096;
const cache = new Map<string, HostResult>();

function normaliseUncached(raw: string): HostResult {
  if (raw.startsWith('[') || raw.includes(':')) {
    return { ok: false, code: 'IP_LITERAL_NOT_ALLOWED', reason: `IPv6 literal ${raw}` };
  }
  // domainToASCII percent-decodes (WHATWG host parsing), which would turn gr%61ph.microsoft.com
  // into an allowed host; a name that needs decoding is not one a client should send.
  if (raw.includes('%')) {
    return { ok: false, code: 'HOST_NOT_ALLOWED', reason: `${JSON.stringify(raw)} is percent-encoded` };
  }
  const withoutDot = raw.endsWith('.') ? raw.slice(0, -1) : raw;
  if (readsAsIpv4(withoutDot)) {
    return { ok: false, code: 'IP_LITERAL_NOT_ALLOWED', reason: `${raw} is read as an IPv4 address` };
  }
  const ascii = domainToASCII(withoutDot);
  if (ascii === '' || !isDnsName(ascii)) {
    return { ok: false, code: 'HOST_NOT_ALLOWED', reason: `${JSON.stringify(raw)} is not a valid host name` };
  }
  return { ok: true, host: ascii };
}

/** A host name from the config in the form rules compare: lower case, no trailing dot. */
export function ruleHost(host: string): string {
  return host.toLowerCase().replace(/\.$/, '');
}

/**
 * Why a host name from the config cannot be one the gateway serves, or undefined. An IP address
 * is refused as well: the gateway refuses IP-literal targets (IP_LITERAL_NOT_ALLOWED), so a
 * provider bound to one would allow nothing, and a name is needed to route or exempt anyway.
 */
export function configuredHostProblem(raw: string): string | undefined {
  const host = ruleHost(raw);
  if (!isDnsName(host)) return `"${raw}" is not a host name`;
  if (readsAsIpv4(host)) return `"${raw}" is an IP address, which the gateway refuses as a target`;
  return undefined;
}

/** Whether clients and resolvers read this name as an IPv4 address (WHATWG "ends in a number"). */
export function readsAsIpv4(host: string): boolean {
  const withoutDot = host.endsWith('.') ? host.slice(0, -1) : host;
  return NUMERIC_LABEL.test(withoutDot.slice(withoutDot.lastIndexOf('.') + 1));
}

/**
 * True for a host already in rule form: lower-case LDH labels of 1-63 characters, no leading or
 * trailing hyphen, no trailing dot, not ending in a numeric label, and no "xn--" label (those go
 * through domainToASCII, which validates the punycode). One pass, no hashing: most hosts qualify.
 */
function isCanonical(host: string): boolean {
  const n = host.length;
  if (n === 0 || n > MAX_HOST_LENGTH) return false;
  let labelStart = 0;
  let numericLabel = true;
  for (let i = 0; i <= n; i++) {
    const c = i === n ? 0x2e : host.charCodeAt(i);
    if (c === 0x2e) {
      const len = i - labelStart;
      if (len === 0 || len > 63) return false;
      if (host.charCodeAt(labelStart) === 0x2d || host.charCodeAt(i - 1) === 0x2d) return false;
      if (len >= 4 && host.charCodeAt(labelStart + 2) === 0x2d && host.charCodeAt(labelStart + 3) === 0x2d) return false;
      // WHATWG "ends in a number": all digits, or 0x followed by hex digits (0x7f000001).
      if (i === n && (numericLabel || (host.charCodeAt(labelStart) === 0x30 && host.charCodeAt(labelStart + 1) === 0x78))) return false;
      labelStart = i + 1;
      numericLabel = true;
    } else if ((c >= 0x61 && c <= 0x7a) || c === 0x2d) {
      numericLabel = false;
    } else if (c < 0x30 || c > 0x39) {
      return false;
    }
  }
  return true;
}

/** LDH host name check (RFC 1123 section 2.1) on an already lower-cased ASCII name. */
export function isDnsName(host: string): boolean {
  if (host.length === 0 || host.length > MAX_HOST_LENGTH) return false;
  for (const label of host.split('.')) {
    if (!LABEL.test(label)) return false;
  }
  return true;
}
