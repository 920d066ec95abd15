/**
 * The one catalogue of idp-egress codes. Every decision, denial and config failure carries one of
 * these stable strings; docs/errors.md documents each (test/unit/core/errors.test.ts keeps the two in step).
 * Codes are never renamed or reused (docs/errors.md): clients and alerts key on them.
 */

export type CodeCategory = 'decision' | 'gateway' | 'upstream' | 'config' | 'probe';

export interface CodeEntry {
  readonly category: CodeCategory;
  /** HTTP status the gateway answers with when this code ends a request (not for config codes). */
  readonly status?: number;
  readonly summary: string;
}

export const CODES = {
  ALLOWED: { category: 'decision', status: 200, summary: 'The request matched an endpoint of an enabled provider.' },
  MALFORMED_REQUEST: {
    category: 'decision',
    status: 400,
    summary: 'The method, request target or URL is not well-formed HTTP, so it cannot be judged.',
  },
  AMBIGUOUS_REQUEST: {
    category: 'decision',
    status: 400,
    summary: 'A server behind the gateway could read the request two ways (a body on a method that takes none, more than one Host header); it is refused, never forwarded.',
  },
  OVERRIDE_HEADER_NOT_ALLOWED: {
    category: 'decision',
    status: 403,
    summary: 'The request carries a header that asks a server to act on another method, path or host (X-HTTP-Method-Override, X-Original-URL, X-Forwarded-Host, Forwarded, ...).',
  },
  TARGET_TOO_LONG: { category: 'decision', status: 414, summary: 'The request target is longer than the policy accepts.' },
  SCHEME_NOT_ALLOWED: { category: 'decision', status: 403, summary: 'Only https URLs are allowed; plain http would carry tokens in clear text.' },
  USERINFO_NOT_ALLOWED: { category: 'decision', status: 403, summary: 'The URL carries user:password@ before the host.' },
  IP_LITERAL_NOT_ALLOWED: { category: 'decision', status: 403, summary: 'The target is an IP address (in any notation) rather than a host name a rule names.' },
  HOST_NOT_ALLOWED: { category: 'decision', status: 403, summary: 'No enabled provider has an endpoint on this host.' },
  PORT_NOT_ALLOWED: { category: 'decision', status: 403, summary: "The host is allowed, but not on this port (the endpoints' port is 443 unless a base URL names another)." },
  SNI_MISMATCH: { category: 'decision', status: 403, summary: 'The TLS server name differs from the CONNECT host (domain fronting).' },
  HOST_HEADER_MISMATCH: { category: 'decision', status: 403, summary: 'The HTTP Host header differs from the host the request was made for (domain fronting).' },
  AMBIGUOUS_PATH: {
    category: 'decision',
    status: 403,
    summary: 'The path has a form that servers may read differently (dot segments, encoded / or \\, empty segments, control characters, double encoding, ;parameters); it is denied, never normalised.',
  },
  PATH_NOT_ALLOWED: { category: 'decision', status: 403, summary: 'The host is allowed, but no endpoint template matches the path.' },
  TENANT_NOT_ALLOWED: {
    category: 'decision',
    status: 403,
    summary: "The path names a tenant, realm or other site-bound value that is not this site's (or is a multi-tenant alias such as common).",
  },
  METHOD_NOT_ALLOWED: { category: 'decision', status: 403, summary: 'The endpoint matched, but not for this HTTP method (API reads are GET only).' },
  TOKEN_TENANT_MISMATCH: {
    category: 'decision',
    status: 403,
    summary: "checkTokenTenant is on and the call's bearer token was issued by another tenant, or is not a JWT whose tenant can be read.",
  },
  QUERY_NOT_ALLOWED: { category: 'decision', status: 403, summary: "The endpoint requires a query parameter that binds it to this site (Google customer or domain), and it is missing or names another." },

  CLIENT_NOT_ALLOWED: { category: 'gateway', status: 403, summary: "The client's address is not in the config's clients list." },
  PROXY_AUTH_REQUIRED: { category: 'gateway', status: 407, summary: 'Proxy authentication is configured and the request did not carry valid Basic credentials.' },
  REQUEST_TIMEOUT: {
    category: 'gateway',
    status: 408,
    summary:
      'The client did not complete its request headers, or after a CONNECT its TLS ClientHello, within limits.headersTimeout; or a forwarded request body within limits.requestBodyTimeout (the provider request is cut and the connection closed).',
  },
  HEADERS_TOO_LARGE: { category: 'gateway', status: 431, summary: 'The request headers are larger than limits.maxHeaderBytes.' },
  TOO_MANY_CONNECTIONS: {
    category: 'gateway',
    status: 429,
    summary: 'The client address already holds limits.maxConnectionsPerClient connections; the new one is answered and closed.',
  },
  GATEWAY_BUSY: {
    category: 'gateway',
    status: 503,
    summary: 'The gateway holds limits.maxConnections connections and every one has a request in progress, so none could be closed to make room.',
  },
  SHUTTING_DOWN: {
    category: 'gateway',
    status: 503,
    summary: 'The gateway was shutting down: a CONNECT not yet answered gets 503, and a tunnel still in its TLS handshake is closed.',
  },
  PRIVATE_ADDRESS: {
    category: 'gateway',
    status: 403,
    summary: 'The host resolved to (or is) a private, loopback, link-local, metadata or otherwise special address, and is not exempted by upstream.allowPrivate.',
  },
  CLIENT_TLS_FAILED: {
    category: 'gateway',
    summary: "The TLS handshake inside an intercepted tunnel failed, usually because the client does not trust the gateway's CA.",
  },
  CLIENT_CLOSED: {
    category: 'gateway',
    summary: 'The client closed its connection before the response was complete (it gave up or timed out); the provider exchange was cut.',
  },

  DNS_FAILED: { category: 'upstream', status: 502, summary: "The provider's host name did not resolve." },
  UPSTREAM_CONNECT: { category: 'upstream', status: 502, summary: 'The TCP connection to the provider was refused or the network was unreachable.' },
  UPSTREAM_RESET: { category: 'upstream', status: 502, summary: 'The provider (or something on the path) reset or closed the connection before a complete response.' },
  UPSTREAM_TLS: { category: 'upstream', status: 502, summary: "The provider's TLS certificate was not trusted or the TLS handshake failed." },
  UPSTREAM_TIMEOUT: { category: 'upstream', status: 504, summary: 'The provider did not connect, answer or send body data within the configured timeout.' },

  PROBE_NXDOMAIN: { category: 'probe', summary: 'probe: the name does not exist in DNS, as the probing host resolves it.' },
  PROBE_DNS_FAILED: { category: 'probe', summary: 'probe: DNS did not answer in time, or answered with a server failure.' },
  PROBE_PRIVATE_ADDRESS: { category: 'probe', summary: 'probe: the name resolves to an address the gateway refuses to dial (private, loopback, link-local, ...).' },
  PROBE_CONNECT_REFUSED: { category: 'probe', summary: 'probe: the TCP connection was refused (nothing listening, or a firewall rejecting).' },
  PROBE_CONNECT_TIMEOUT: { category: 'probe', summary: 'probe: the TCP connection did not complete in time (a firewall dropping packets).' },
  PROBE_CONNECT_FAILED: { category: 'probe', summary: 'probe: the TCP connection failed otherwise (network or host unreachable, reset).' },
  PROBE_PROXY_REFUSED: { category: 'probe', summary: 'probe: the proxy given with --via did not open a tunnel (its status and code say why).' },
  PROBE_TLS_RESET: { category: 'probe', summary: 'probe: the connection was reset or closed during the TLS handshake.' },
  PROBE_TLS_TIMEOUT: { category: 'probe', summary: 'probe: the TLS handshake did not complete in time.' },
  PROBE_CERT_UNTRUSTED: { category: 'probe', summary: "probe: the server's certificate does not chain to a trusted CA." },
  PROBE_CERT_EXPIRED: { category: 'probe', summary: "probe: the server's certificate (or one in its chain) has expired or is not yet valid." },
  PROBE_CERT_NAME_MISMATCH: { category: 'probe', summary: "probe: the server's certificate does not name the host." },
  PROBE_TLS_FAILED: { category: 'probe', summary: 'probe: the TLS handshake failed for another reason (protocol or cipher mismatch).' },
  PROBE_HTTP_TIMEOUT: { category: 'probe', summary: 'probe: the HTTP request got no response in time.' },
  PROBE_HTTP_FAILED: { category: 'probe', summary: 'probe: the connection closed or reset before an HTTP response arrived.' },
  PROBE_HTTP_STATUS: { category: 'probe', summary: 'probe: the HTTP response has a status that does not prove the path works (5xx, or a denial by the gateway).' },

  CONFIG_UNREADABLE: { category: 'config', summary: 'The config or policy pack file could not be read.' },
  CONFIG_SYNTAX: { category: 'config', summary: 'The file is not valid YAML.' },
  CONFIG_INVALID: { category: 'config', summary: 'The file is valid YAML but does not fit the schema: a key is unknown, missing or has a wrong value.' },
  PACK_INVALID: { category: 'config', summary: 'A policy pack is inconsistent (unknown variable in a template, duplicate endpoint id, ...).' },
} as const satisfies Record<string, CodeEntry>;

export type Code = keyof typeof CODES;
export type DenyCode = Exclude<
  { [K in Code]: (typeof CODES)[K]['category'] extends 'decision' ? K : never }[Code],
  'ALLOWED'
>;
export type GatewayCode = { [K in Code]: (typeof CODES)[K]['category'] extends 'gateway' | 'upstream' ? K : never }[Code];
export type ConfigCode = { [K in Code]: (typeof CODES)[K]['category'] extends 'config' ? K : never }[Code];
export type ProbeCode = { [K in Code]: (typeof CODES)[K]['category'] extends 'probe' ? K : never }[Code];

/** One problem in a config or pack file, located to the character. */
export interface ConfigProblem {
  readonly code: ConfigCode;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** Dotted key path, e.g. `providers.okta.domain`; empty for whole-file problems. */
  readonly path: string;
  readonly message: string;
  readonly fix?: string;
}

/** An upstream code (DNS_FAILED, UPSTREAM_*): the call was allowed and failed on the provider side. */
export function isUpstreamFailure(code: string): boolean {
  return (CODES as Record<string, { category: CodeCategory }>)[code]?.category === 'upstream';
}

/** The HTTP status of a code that ends a request. */
export function statusOfCode(code: Code): number {
  return (CODES[code] as CodeEntry).status ?? 500;
}

export function formatProblem(p: ConfigProblem): string {
  const where = `${p.file}:${p.line}:${p.col}`;
  const key = p.path ? ` ${p.path}:` : '';
  const fix = p.fix ? `\n    fix: ${p.fix}` : '';
  return `${where}${key} ${p.message} [${p.code}]${fix}`;
}

/** Thrown when a config or pack cannot be loaded; carries every problem found, not just the first. */
export class ConfigError extends Error {
  readonly code: ConfigCode;
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
    this.code = problems[0]?.code ?? 'CONFIG_INVALID';
  }
}
