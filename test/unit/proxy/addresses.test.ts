import { describe, expect, it } from 'vitest';
import { refusedAddress } from '../../../src/proxy/addresses.js';
import { clientKey } from '../../../src/proxy/connections.js';
import { clientResponseHeaders, hasRequestBody, upstreamRequestHeaders } from '../../../src/proxy/headers.js';
import { exchangeCode } from '../../../src/proxy/upstream.js';

describe('address vetting', () => {
  // The registry walk and the embedded forms are in test/socket/adversarial/addresses.test.ts.
  it.each(['20.190.151.7', '142.250.74.78', '2606:4700::1111', '2620:1ec:c11::200', '8.8.8.8'])('dials the public address %s', (address) => {
    expect(refusedAddress(address, false)).toBeUndefined();
  });
});

describe('who a connection counts against (limits.maxConnectionsPerClient)', () => {
  it.each([
    ['10.0.0.7', '10.0.0.7'],
    ['::ffff:10.0.0.7', '10.0.0.7'],
    ['2001:db8:1:2:aaaa::1', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff:ffff:ffff:fffe', '2001:db8:1:2::/64'],
    ['2001:db8:1:3::1', '2001:db8:1:3::/64'],
    ['::1', '::/64'],
  ])('%s counts as %s', (address, key) => {
    expect(clientKey(address)).toBe(key);
  });
});

describe('header hygiene', () => {
  it('drops hop-by-hop fields, Connection-listed fields, Host, Expect and Proxy-* on the way up; keeps order, case and repeats', () => {
    const raw = [
      'Host', 'graph.microsoft.com',
      'Authorization', 'Bearer t',
      'Connection', 'keep-alive, X-Trace-Secret',
      'X-Trace-Secret', 'x',
      'Proxy-Authorization', 'Basic x',
      'Proxy-Connection', 'keep-alive',
      'Keep-Alive', 'timeout=5',
      'TE', 'trailers',
      'Trailer', 'X',
      'Transfer-Encoding', 'chunked',
      'Upgrade', 'h2c',
      'Expect', '100-continue',
      'Accept', 'application/json',
      'accept', 'text/plain',
      'ConsistencyLevel', 'eventual',
    ];
    expect(upstreamRequestHeaders(raw)).toEqual(['Authorization', 'Bearer t', 'Accept', 'application/json', 'accept', 'text/plain', 'ConsistencyLevel', 'eventual']);
  });

  it('keeps repeated response headers (Link, Set-Cookie) and Retry-After; drops hop-by-hop ones', () => {
    const raw = ['Link', '<a>; rel="self"', 'Connection', 'close', 'Link', '<b>; rel="next"', 'Transfer-Encoding', 'chunked', 'Retry-After', '7', 'Keep-Alive', 'timeout=5'];
    expect(clientResponseHeaders(raw)).toEqual(['Link', '<a>; rel="self"', 'Link', '<b>; rel="next"', 'Retry-After', '7']);
  });

  it('hands the audit only the allowlisted response headers the client gets, each cut at 200 characters', () => {
    const raw = ['Request-Id', 'r-1', 'Connection', 'keep-alive, Retry-After', 'Retry-After', '7', 'Set-Cookie', 'secret', 'client-request-id', 'c'.repeat(300), 'Keep-Alive', 'timeout=5'];
    const audited: Record<string, string> = {};
    expect(clientResponseHeaders(raw, audited)).toEqual(['Request-Id', 'r-1', 'Set-Cookie', 'secret', 'client-request-id', 'c'.repeat(300)]);
    // Retry-After was named by Connection, so it went neither to the client nor to the audit.
    expect(audited).toEqual({ 'request-id': 'r-1', 'client-request-id': 'c'.repeat(200) });
  });

  it('knows when a request has a body (RFC 9112 section 6.3)', () => {
    expect(hasRequestBody({})).toBe(false);
    expect(hasRequestBody({ 'content-length': '0' })).toBe(false);
    expect(hasRequestBody({ 'content-length': '12' })).toBe(true);
    expect(hasRequestBody({ 'transfer-encoding': 'chunked' })).toBe(true);
  });
});

describe('upstream failure codes', () => {
  it.each([
    ['ENOTFOUND', 'DNS_FAILED'],
    ['EAI_AGAIN', 'DNS_FAILED'],
    ['ECONNREFUSED', 'UPSTREAM_CONNECT'],
    ['UND_ERR_MAX_ORIGINS_REACHED', 'UPSTREAM_CONNECT'],
    ['EHOSTUNREACH', 'UPSTREAM_CONNECT'],
    ['ECONNRESET', 'UPSTREAM_RESET'],
    ['UND_ERR_SOCKET', 'UPSTREAM_RESET'],
    ['UND_ERR_CONNECT_TIMEOUT', 'UPSTREAM_TIMEOUT'],
    ['UND_ERR_HEADERS_TIMEOUT', 'UPSTREAM_TIMEOUT'],
    ['UND_ERR_BODY_TIMEOUT', 'UPSTREAM_TIMEOUT'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UPSTREAM_TLS'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'UPSTREAM_TLS'],
    ['CERT_HAS_EXPIRED', 'UPSTREAM_TLS'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'UPSTREAM_TLS'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'UPSTREAM_TLS'],
    ['PRIVATE_ADDRESS', 'PRIVATE_ADDRESS'],
  ])('%s -> %s', (code, expected) => {
    expect(exchangeCode(Object.assign(new Error('x'), { code }))).toBe(expected);
    expect(exchangeCode(Object.assign(new Error('wrapped'), { code: 'UND_ERR', cause: { code } }))).toBe(expected);
  });
});
