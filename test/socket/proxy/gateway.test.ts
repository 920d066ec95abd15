import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTCOME_CHANNEL, type Outcome } from '../../../src/audit/outcome.js';
import { CLIENT_SHARE, POOL_CONNECTIONS } from '../../../src/proxy/upstream.js';
import { startHarness, viaProxy, withHarness, type Harness } from '../../support/gateway.js';
import { completeResponse, openConnect, readUntil, sendRaw, tlsOver, trickleUntilClosed } from '../../support/raw.js';
import { until } from '../../support/wait.js';

const TENANT = '11111111-2222-3333-4444-555555555555';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** Outcomes published while `fn` runs and until `awaited` holds for them (some are published after the client's last byte). */
async function outcomesOf(fn: () => Promise<unknown>, awaited: (seen: readonly Outcome[]) => boolean): Promise<Outcome[]> {
  const seen: Outcome[] = [];
  const listener = (o: unknown) => seen.push(o as Outcome);
  subscribe(OUTCOME_CHANNEL.name, listener);
  try {
    await fn();
    await until(() => awaited(seen), 3_000, 'the awaited outcomes were published');
  } finally {
    unsubscribe(OUTCOME_CHANNEL.name, listener);
  }
  return seen;
}

describe('gateway: allowed calls reach the provider unchanged', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it.each([
    ['Entra token', 'POST', `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`, 'client_id=c&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&client_secret=s&grant_type=client_credentials'],
    ['Graph users', 'GET', 'https://graph.microsoft.com/v1.0/users?$select=id,mail&$top=999', undefined],
    ['Graph guest memberOf', 'GET', 'https://graph.microsoft.com/v1.0/users/alice_fabrikam.com%23EXT%23@contoso.onmicrosoft.com/memberOf', undefined],
    ['Google token', 'POST', 'https://www.googleapis.com/oauth2/v4/token', 'client_id=c&client_secret=s&refresh_token=r&grant_type=refresh_token'],
    ['Google users', 'GET', 'https://www.googleapis.com/admin/directory/v1/users?customer=my_customer&maxResults=500', undefined],
    ['Okta users', 'GET', 'https://acme.okta.com/api/v1/users?limit=200', undefined],
    ['Keycloak token', 'POST', 'https://sso.example.org/auth/realms/staff/protocol/openid-connect/token', 'grant_type=client_credentials&client_id=c&client_secret=s'],
    ['Keycloak users', 'GET', 'https://sso.example.org/auth/admin/realms/staff/users?first=0&max=100', undefined],
    ['OneLogin token', 'POST', 'https://acme.onelogin.com/auth/oauth2/v2/token', '{"grant_type":"client_credentials"}'],
    ['OneLogin users', 'GET', 'https://acme.onelogin.com/api/2/users', undefined],
  ])('%s', async (_name, method, url, body) => {
    const before = h.provider.seen.length;
    const r = await viaProxy(h, url, { method, ...(body ? { body, headers: { ...FORM } } : {}) });
    expect(r.status, r.body).toBe(200);
    const seen = h.provider.seen[before]!;
    const u = new URL(url);
    expect(seen).toMatchObject({ method, url: url.slice(u.origin.length), host: u.hostname, servername: u.hostname, body: body ?? '' });
  });

  it('forwards the bytes that were judged: no re-encoding of the path or query', async () => {
    const target = '/v1.0/users/alice_fabrikam.com%23EXT%23@contoso.onmicrosoft.com?%24select=id&$filter=startswith(displayName,%27A%27)';
    await viaProxy(h, `https://graph.microsoft.com${target}`);
    expect(h.provider.seen.at(-1)!.url).toBe(target);
  });

  it('keeps request header order, case and repeats, and sends the provider its own Host', async () => {
    await viaProxy(h, 'https://graph.microsoft.com/v1.0/groups', { headers: { 'X-Mixed-Case': 'a', ConsistencyLevel: 'eventual' } });
    const raw = h.provider.seen.at(-1)!.rawHeaders;
    expect(raw).toContain('X-Mixed-Case');
    expect(raw).toContain('ConsistencyLevel');
    expect(h.provider.seen.at(-1)!.host).toBe('graph.microsoft.com');
  });

  it('passes 429 with Retry-After through untouched', async () => {
    h.provider.on('GET /v1.0/groups/throttled', (_req, res) => {
      res.writeHead(429, { 'retry-after': '7', 'content-type': 'application/json' });
      res.end('{"error":{"code":"TooManyRequests"}}');
    });
    const r = await viaProxy(h, 'https://graph.microsoft.com/v1.0/groups/throttled/members');
    expect(r.status).toBe(429);
    expect(r.headers['retry-after']).toBe('7');
    expect(r.headers['x-idp-egress-code']).toBeUndefined();
    expect(r.body).toBe('{"error":{"code":"TooManyRequests"}}');
  });

  it("passes Okta's repeated Link headers through separately, in order", async () => {
    h.provider.on('GET /api/v1/groups?limit=2', (_req, res) => {
      res.setHeader('link', ['<https://acme.okta.com/api/v1/groups?limit=2>; rel="self"', '<https://acme.okta.com/api/v1/groups?after=00g2&limit=2>; rel="next"']);
      res.setHeader('x-rate-limit-remaining', '599');
      res.end('[]');
    });
    const { socket } = await openConnect(h.run.address.port, 'acme.okta.com:443');
    const tls = await tlsOver(socket, 'acme.okta.com', h.gatewayCaPem);
    tls.write('GET /api/v1/groups?limit=2 HTTP/1.1\r\nHost: acme.okta.com\r\nAuthorization: SSWS x\r\n\r\n');
    const text = await readUntil(tls, completeResponse);
    tls.destroy();
    const links = text.split('\r\n').filter((l) => /^link:/i.test(l));
    expect(links).toEqual(['link: <https://acme.okta.com/api/v1/groups?limit=2>; rel="self"', 'link: <https://acme.okta.com/api/v1/groups?after=00g2&limit=2>; rel="next"']);
  });

  it('serves many requests on one keep-alive tunnel, each judged on its own', async () => {
    const { socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
    const tls = await tlsOver(socket, 'graph.microsoft.com', h.gatewayCaPem);
    const statuses: string[] = [];
    for (const path of ['/v1.0/users', '/v1.0/users/u1/drive', '/v1.0/groups', '/v1.0/users/u1/manager']) {
      tls.write(`GET ${path} HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\n`);
      const text = await readUntil(tls, completeResponse);
      statuses.push(text.slice(9, 12));
    }
    tls.destroy();
    expect(statuses).toEqual(['200', '403', '200', '200']);
  });

  it('answers pipelined requests in the order they were sent, each judged on its own', async () => {
    const { socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
    const tls = await tlsOver(socket, 'graph.microsoft.com', h.gatewayCaPem);
    // RFC 9112 section 9.3.2: responses in request order, even when a later one (a denial) is ready first.
    tls.write(['/v1.0/users', '/v1.0/users/u1/drive', '/v1.0/groups'].map((path) => `GET ${path} HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\n`).join(''));
    const text = await readUntil(tls, (t) => (t.match(/^HTTP\/1\.1 /gm) ?? []).length === 3 && completeResponse(t.slice(t.lastIndexOf('HTTP/1.1 '))));
    tls.destroy();
    expect([...text.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => m[1])).toEqual(['200', '403', '200']);
  });

  // A refusal written at once would land where the client expects the slow call's response, and
  // be taken for it: the client would see a 400 for a call the provider did receive.
  it.each(['tunnel', 'absolute-form'])('answers a malformed request pipelined behind a call in progress after that call (%s)', async (form) => {
    h.provider.on('GET /v1.0/groups/slow/members', (_req, res) => void setTimeout(() => res.end('{"value":[]}'), 300));
    const garbage = 'NOT HTTP AT ALL\r\n\r\n';
    let conn: Socket | TLSSocket;
    let bytes: string;
    if (form === 'tunnel') {
      const { socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
      conn = await tlsOver(socket, 'graph.microsoft.com', h.gatewayCaPem);
      bytes = `GET /v1.0/groups/slow/members HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\n${garbage}`;
    } else {
      conn = netConnect(h.run.address.port, '127.0.0.1');
      await once(conn, 'connect');
      bytes = `GET https://graph.microsoft.com/v1.0/groups/slow/members HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\n${garbage}`;
    }
    let text = '';
    const seen = await outcomesOf(
      async () => {
        conn.on('data', (d: Buffer) => (text += d.toString('latin1')));
        const closed = once(conn, 'close');
        conn.write(bytes);
        await closed;
      },
      (all) => all.some((o) => o.code === 'MALFORMED_REQUEST') && all.some((o) => o.url.endsWith('/slow/members')),
    );
    // The 200's body ends without a newline, so the 400's status line follows it directly.
    expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 400']);
    expect(text).toContain('{"value":[]}HTTP/1.1 400 Bad Request\r\n');
    expect(seen.find((o) => o.url.endsWith('/slow/members'))).toMatchObject({ code: 'ALLOWED', status: 200 });
    expect(seen.find((o) => o.code === 'MALFORMED_REQUEST')).toMatchObject({ kind: 'connection', status: 400, enforced: true });
  });

  it('audits a malformed request pipelined behind a call in progress when the client leaves first, unanswered', async () => {
    h.provider.on('GET /v1.0/groups/slower/members', (_req, res) => void setTimeout(() => res.end('{"value":[]}'), 500));
    const { socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
    const tls = await tlsOver(socket, 'graph.microsoft.com', h.gatewayCaPem);
    const seen = await outcomesOf(
      async () => {
        tls.write('GET /v1.0/groups/slower/members HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\nNOT HTTP AT ALL\r\n\r\n');
        await new Promise((r) => setTimeout(r, 100));
        tls.destroy();
      },
      (all) => all.some((o) => o.code === 'MALFORMED_REQUEST'),
    );
    expect(seen.find((o) => o.code === 'MALFORMED_REQUEST')).toMatchObject({ kind: 'connection', status: undefined });
  });
});

describe('gateway: denials', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('answers a denied path inside an allowed host with 403, its code and the closest rule', async () => {
    const before = h.provider.seen.length;
    const r = await viaProxy(h, 'https://graph.microsoft.com/v1.0/users/u1/drive/root/children');
    expect(r.status).toBe(403);
    expect(r.headers['x-idp-egress-code']).toBe('PATH_NOT_ALLOWED');
    expect(r.body).toBe(
      [
        'DENY  PATH_NOT_ALLOWED',
        '  request:  GET https://graph.microsoft.com/v1.0/users/u1/drive/root/children',
        '  provider: entra-id',
        '  reason:   no entra-id endpoint continues /v1.0/users/u1 with "drive"',
        '  closest:  graph.users.get  GET https://graph.microsoft.com/{apiVersion}/users/{userid}',
        '  mode:     enforce',
        '',
      ].join('\n'),
    );
    expect(h.provider.seen.length).toBe(before);
  });

  it('names the endpoint of a method denial in a header', async () => {
    const r = await viaProxy(h, 'https://graph.microsoft.com/v1.0/users/u1', { method: 'DELETE' });
    expect(r.status).toBe(403);
    expect(r.headers['x-idp-egress-code']).toBe('METHOD_NOT_ALLOWED');
    expect(r.headers['x-idp-egress-endpoint']).toBe('graph.users.get');
  });

  // Node reads and drops the rest of an answered request's body to keep the connection; a body
  // sent a byte at a time would hold the connection as long as each byte came within idleTimeout.
  it('closes the connection after a denial whose request declared a body, without reading the rest', async () => {
    const { socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
    const tls = await tlsOver(socket, 'graph.microsoft.com', h.gatewayCaPem);
    const text = await trickleUntilClosed(tls, 'POST /v1.0/users/u1/drive HTTP/1.1\r\nHost: graph.microsoft.com\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":');
    expect(text).toMatch(/^HTTP\/1\.1 403 /);
    expect(text.toLowerCase()).toContain('\r\nconnection: close\r\n');
  });

  it('refuses a CONNECT to a host no provider uses, before any tunnel', async () => {
    const { head, socket } = await openConnect(h.run.address.port, 'evil.example.com:443');
    socket.destroy();
    expect(head).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(head).toContain('x-idp-egress-code: HOST_NOT_ALLOWED\r\n');
    expect(head).toContain('reason:   no enabled provider has endpoints on evil.example.com');
  });

  it('refuses a CONNECT to another tenant org, an IP literal and a wrong port', async () => {
    for (const [authority, code] of [
      ['other.okta.com:443', 'HOST_NOT_ALLOWED'],
      ['169.254.169.254:443', 'IP_LITERAL_NOT_ALLOWED'],
      ['graph.microsoft.com:8443', 'PORT_NOT_ALLOWED'],
    ]) {
      const { head, socket } = await openConnect(h.run.address.port, authority!);
      socket.destroy();
      expect(head, authority).toContain(`x-idp-egress-code: ${code}\r\n`);
    }
  });

  it('drops a tunnel whose TLS server name is not the CONNECT host (domain fronting)', async () => {
    const outcomes = await outcomesOf(async () => {
      const { head, socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
      expect(head).toMatch(/^HTTP\/1\.1 200/);
      await expect(tlsOver(socket, 'www.googleapis.com', h.gatewayCaPem)).rejects.toThrow();
    }, (seen) => seen.some((o) => o.code === 'SNI_MISMATCH'));
    expect(outcomes.find((o) => o.code === 'SNI_MISMATCH')).toMatchObject({ kind: 'connect', enforced: true, url: 'graph.microsoft.com:443' });
  });

  it('closes a tunnel that carries plain HTTP instead of a TLS ClientHello, and says so', async () => {
    const outcomes = await outcomesOf(async () => {
      const { head, socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
      expect(head).toMatch(/^HTTP\/1\.1 200/);
      socket.write('GET /v1.0/users HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\n');
      await new Promise((r) => socket.once('close', r));
    }, (seen) => seen.some((o) => o.code === 'MALFORMED_REQUEST'));
    expect(outcomes.find((o) => o.code === 'MALFORMED_REQUEST')).toMatchObject({
      kind: 'connect',
      url: 'graph.microsoft.com:443',
      enforced: true,
      reason: 'the tunnel does not start with a TLS handshake record (is the client speaking TLS?)',
    });
  });

  it('records a client that rejects the gateway certificate (the JVM\'s "PKIX path building failed")', async () => {
    const outcomes = await outcomesOf(async () => {
      const { socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
      // Trusting the provider's CA instead of the gateway's: the client aborts the handshake.
      await expect(tlsOver(socket, 'graph.microsoft.com', h.providerCaPem)).rejects.toThrow();
    }, (seen) => seen.some((o) => o.code === 'CLIENT_TLS_FAILED'));
    expect(outcomes.find((o) => o.code === 'CLIENT_TLS_FAILED')).toMatchObject({
      kind: 'connect',
      url: 'graph.microsoft.com:443',
      tls: 'intercept',
      reason: expect.stringMatching(/^the client ended the TLS handshake( \(.+\))?; does it trust the idp-egress CA\? see idp-egress jvm$/),
    });
    // A client that trusts the gateway's CA completes the handshake: no such event.
    const fine = await outcomesOf(async () => {
      const { socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
      const tls = await tlsOver(socket, 'graph.microsoft.com', h.gatewayCaPem);
      tls.write('GET /v1.0/users HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\n');
      await readUntil(tls, completeResponse);
      tls.destroy();
    }, (seen) => seen.length >= 2);
    expect(fine.map((o) => o.code)).toEqual(['ALLOWED', 'ALLOWED']);
  });

  it('speaks HTTP/1.0 to a client that offers only http/1.0, and says why it refuses a handshake it cannot serve', async () => {
    const { socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
    const tls = await tlsOver(socket, 'graph.microsoft.com', h.gatewayCaPem, { ALPNProtocols: ['http/1.0'] });
    expect(tls.alpnProtocol).toBe('http/1.0');
    tls.write('GET /v1.0/users HTTP/1.0\r\nHost: graph.microsoft.com\r\n\r\n');
    expect(await readUntil(tls, completeResponse)).toMatch(/^HTTP\/1\.1 200 /);
    tls.destroy();

    const refused = async (options: ConnectionOptions) => {
      const outcomes = await outcomesOf(async () => {
        const { socket: s } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
        await expect(tlsOver(s, 'graph.microsoft.com', h.gatewayCaPem, options)).rejects.toThrow();
      }, (seen) => seen.some((o) => o.code === 'CLIENT_TLS_FAILED'));
      return outcomes.find((o) => o.code === 'CLIENT_TLS_FAILED')?.reason;
    };
    expect(await refused({ ALPNProtocols: ['h2'] })).toBe('the client offered no application protocol (ALPN) the gateway speaks: http/1.1 or http/1.0, not h2');
    expect(await refused({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' })).toBe(
      'the client offered no TLS version the gateway accepts: TLSv1.2 to TLSv1.3',
    );
  });

  it('refuses a request inside a tunnel whose Host names another host', async () => {
    const before = h.provider.seen.length;
    const { socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
    const tls = await tlsOver(socket, 'graph.microsoft.com', h.gatewayCaPem);
    tls.write('GET /drive/v3/files HTTP/1.1\r\nHost: www.googleapis.com\r\n\r\n');
    const text = await readUntil(tls, completeResponse);
    tls.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 403 /);
    expect(text).toContain('x-idp-egress-code: HOST_HEADER_MISMATCH\r\n');
    expect(h.provider.seen.length).toBe(before);
  });

  it('refuses an absolute-form target inside a tunnel, even one naming the tunnel host, and audits it as sent', async () => {
    const before = h.provider.seen.length;
    const outcomes = await outcomesOf(async () => {
      const { socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
      const tls = await tlsOver(socket, 'graph.microsoft.com', h.gatewayCaPem);
      tls.write('GET https://evil.example/v1.0/users HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\n');
      expect(await readUntil(tls, completeResponse)).toContain('x-idp-egress-code: MALFORMED_REQUEST\r\n');
      tls.destroy();
    }, (seen) => seen.some((o) => o.kind === 'request'));
    expect(h.provider.seen.length).toBe(before);
    expect(outcomes.find((o) => o.kind === 'request')).toMatchObject({ code: 'MALFORMED_REQUEST', url: 'https://evil.example/v1.0/users' });
  });

  it('refuses plain-http absolute-form requests and origin-form requests to the proxy itself', async () => {
    const plain = await sendRaw(h.run.address.port, 'GET http://graph.microsoft.com/v1.0/users HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\n');
    expect(plain).toMatch(/^HTTP\/1\.1 403 /);
    expect(plain).toContain('x-idp-egress-code: SCHEME_NOT_ALLOWED');
    const origin = await sendRaw(h.run.address.port, 'GET /v1.0/users HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(origin).toMatch(/^HTTP\/1\.1 400 /);
    expect(origin).toContain('idp-egress is a forward proxy');
  });

  it('forwards an https absolute-form request (a client that does not CONNECT)', async () => {
    const text = await sendRaw(h.run.address.port, 'GET https://graph.microsoft.com/v1.0/groups HTTP/1.1\r\nHost: ignored.example\r\n\r\n');
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(h.provider.seen.at(-1)).toMatchObject({ url: '/v1.0/groups', host: 'graph.microsoft.com' });
  });

  it('answers malformed HTTP with 400 (CL and TE together)', async () => {
    const text = await sendRaw(h.run.address.port, 'POST https://graph.microsoft.com/v1.0/users HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc');
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(text).toContain('x-idp-egress-code: MALFORMED_REQUEST');
  });

  it('answers oversized headers with 431 (RFC 6585 section 5)', async () => {
    const text = await sendRaw(h.run.address.port, `GET https://graph.microsoft.com/v1.0/users HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`);
    expect(text).toMatch(/^HTTP\/1\.1 431 /);
    expect(text).toContain('x-idp-egress-code: HEADERS_TOO_LARGE');
    expect(text).toContain('limits.maxHeaderBytes');
  });

  it('strips hop-by-hop headers and everything Connection names before the provider', async () => {
    const { socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
    const tls = await tlsOver(socket, 'graph.microsoft.com', h.gatewayCaPem);
    tls.write(
      'GET /v1.0/groups HTTP/1.1\r\nHost: graph.microsoft.com\r\nConnection: keep-alive, X-Internal-Token\r\nX-Internal-Token: canary-1\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: Basic Y2FuYXJ5\r\nTE: trailers\r\nUpgrade: h2c\r\nX-Kept: yes\r\n\r\n',
    );
    await readUntil(tls, completeResponse);
    tls.destroy();
    const names = h.provider.seen.at(-1)!.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    expect(names).toContain('x-kept');
    for (const gone of ['x-internal-token', 'keep-alive', 'proxy-authorization', 'te', 'upgrade']) expect(names).not.toContain(gone);
  });
});

describe('gateway: limits', () => {
  it('holds at most limits.maxConnections client connections', async () => {
    await withHarness({ extra: 'limits:\n  maxConnections: 2' }, async (h) => {
      const a = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
      const b = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
      expect([a.head, b.head].every((x) => x.startsWith('HTTP/1.1 200'))).toBe(true);
      // Both are mid-CONNECT (no ClientHello yet), so none can be closed to make room: the third
      // is told so.
      const c = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
      expect(c.head).toMatch(/^HTTP\/1\.1 503 /);
      expect(c.head).toContain('x-idp-egress-code: GATEWAY_BUSY');
      for (const s of [a.socket, b.socket, c.socket]) s.destroy();
    });
  });

  it('advertises limits.idleTimeout in Keep-Alive and closes an idle keep-alive connection or intercepted tunnel 1 s after it', async () => {
    await withHarness({ extra: 'limits:\n  idleTimeout: 1s' }, async (h) => {
      // Node's server waits keepAliveTimeoutBuffer (1 s) past the limit it advertises, so that a
      // client honouring Keep-Alive: timeout=1 closes first instead of racing the gateway's close.
      const idleFor = async (socket: Socket | TLSSocket, head: string) => {
        socket.write(head);
        const text = await readUntil(socket, completeResponse);
        const answered = Date.now();
        await once(socket, 'close');
        return { text, ms: Date.now() - answered };
      };
      const { socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
      const tls = await tlsOver(socket, 'graph.microsoft.com', h.gatewayCaPem);
      const inside = await idleFor(tls, 'GET /v1.0/users HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\n');
      expect(inside.text).toMatch(/^HTTP\/1\.1 200 /);
      expect(inside.text).toMatch(/\r\nkeep-alive: timeout=1\r\n/i);
      expect(inside.ms).toBeGreaterThanOrEqual(1_900);
      expect(inside.ms).toBeLessThan(4_000);

      const plain = netConnect(h.run.address.port, '127.0.0.1');
      await once(plain, 'connect');
      const outside = await idleFor(plain, 'GET https://graph.microsoft.com/v1.0/users HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\n');
      expect(outside.text).toMatch(/^HTTP\/1\.1 200 /);
      expect(outside.text).toMatch(/\r\nkeep-alive: timeout=1\r\n/i);
      expect(outside.ms).toBeGreaterThanOrEqual(1_900);
      expect(outside.ms).toBeLessThan(4_000);
    });
  });

  it('gives a client limits.headersTimeout to send its headers, outside and inside a tunnel, and its ClientHello', async () => {
    await withHarness({ extra: 'limits:\n  headersTimeout: 1s\n  idleTimeout: 60s' }, async (h) => {
      // Headers sent a line every 200 ms: each byte keeps the connection from idling, but the
      // request never completes within 1 s (slowloris).
      const dribble = async (socket: Socket | TLSSocket, head: string) => {
        const started = Date.now();
        socket.write(head);
        const timer = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 200);
        const text = await readUntil(socket, completeResponse, 8_000);
        clearInterval(timer);
        return { text, ms: Date.now() - started };
      };
      const { socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
      const tls = await tlsOver(socket, 'graph.microsoft.com', h.gatewayCaPem);
      const inside = await dribble(tls, 'GET /v1.0/users HTTP/1.1\r\nHost: graph.microsoft.com\r\n');
      expect(inside.text).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(inside.text).toContain('x-idp-egress-code: REQUEST_TIMEOUT');
      expect(inside.text).toContain('the request headers did not complete within 1000 ms (limits.headersTimeout)');
      // Within the limit and one sweep of the connections (1 s), not Node's default 30 s sweep.
      expect(inside.ms).toBeLessThan(3_000);
      tls.destroy();

      const plain = netConnect(h.run.address.port, '127.0.0.1');
      await once(plain, 'connect');
      const outside = await dribble(plain, 'GET https://graph.microsoft.com/v1.0/users HTTP/1.1\r\nHost: graph.microsoft.com\r\n');
      expect(outside.text).toMatch(/^HTTP\/1\.1 408 /);
      expect(outside.ms).toBeLessThan(3_000);
      plain.destroy();

      const outcomes = await outcomesOf(async () => {
        const silent = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
        await once(silent.socket, 'close');
      }, (seen) => seen.some((o) => o.kind === 'connect'));
      expect(outcomes.find((o) => o.kind === 'connect')).toMatchObject({ code: 'REQUEST_TIMEOUT', reason: 'no TLS ClientHello within 1000 ms (limits.headersTimeout)' });
    });
  });
});

describe('gateway: upstream failures have their own codes', () => {
  it('maps a reset, a timeout, a refused port and an untrusted certificate', async () => {
    await withHarness({ timeouts: '    connect: 1s\n    headers: 300ms\n    body: 300ms' }, async (h) => {
      h.provider.on('GET /v1.0/users/reset', (req) => req.socket.destroy());
      h.provider.on('GET /v1.0/users/slow', () => undefined);
      const reset = await viaProxy(h, 'https://graph.microsoft.com/v1.0/users/reset');
      expect([reset.status, reset.headers['x-idp-egress-code']]).toEqual([502, 'UPSTREAM_RESET']);
      expect(reset.body).toContain('idp-egress could not complete GET https://graph.microsoft.com/v1.0/users/reset');
      const slow = await viaProxy(h, 'https://graph.microsoft.com/v1.0/users/slow');
      expect([slow.status, slow.headers['x-idp-egress-code']]).toEqual([504, 'UPSTREAM_TIMEOUT']);
      expect(slow.body).toContain('no response headers within 300 ms of the request (upstream.timeouts.headers)');
      // A request with a body: the headers wait starts once the body has gone up.
      h.provider.on(`POST /${TENANT}/oauth2/v2.0/token`, () => undefined);
      const token = await viaProxy(h, `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`, { method: 'POST', body: 'grant_type=client_credentials&client_id=c&client_secret=s', headers: { ...FORM } });
      expect([token.status, token.headers['x-idp-egress-code']]).toEqual([504, 'UPSTREAM_TIMEOUT']);
      expect(token.body).toContain('no response headers within 300 ms of the request (upstream.timeouts.headers)');
    });
  });

  it('answers 504 to a request that waits behind a full provider pool for upstream.timeouts.connect', async () => {
    await withHarness({ timeouts: '    connect: 300ms\n    headers: 10s\n    body: 10s', extra: 'clients: [127.0.0.0/8]\nlimits:\n  shutdownGrace: 1s' }, async (h) => {
      // Every pooled connection to the host carries a request the provider sits on: it takes two
      // clients, each with its whole share (upstream-shares.ts).
      const held: ServerResponse[] = [];
      h.provider.on('GET /v1.0/users/held', (_req, res) => void held.push(res));
      const ask = (from: string) => {
        const socket = netConnect({ port: h.run.address.port, host: '127.0.0.1', localAddress: from });
        socket.write('GET https://graph.microsoft.com/v1.0/users/held HTTP/1.1\r\nHost: graph.microsoft.com\r\nConnection: close\r\n\r\n');
        return readUntil(socket, completeResponse, 10_000).finally(() => socket.destroy());
      };
      const shares = CLIENT_SHARE * 2;
      expect(shares).toBe(POOL_CONNECTIONS);
      const holding = ['127.0.0.1', '127.0.0.2'].flatMap((from) => Array.from({ length: CLIENT_SHARE }, () => ask(from)));
      await until(() => held.length === shares, 5_000, `the provider holds ${shares} requests`);
      const queued = await ask('127.0.0.3');
      expect(queued).toMatch(/^HTTP\/1\.1 504 /);
      expect(queued).toContain('x-idp-egress-code: UPSTREAM_TIMEOUT');
      expect(queued).toContain('no connection to the provider within 300 ms (upstream.timeouts.connect)');
      expect(held).toHaveLength(shares);
      // The held ones were only slow: answered now, each completes.
      for (const res of held) res.end('{}');
      expect((await Promise.all(holding)).map((text) => text.split('\r\n')[0])).toEqual(Array(shares).fill('HTTP/1.1 200 OK'));
    });
  });

  it('lets a body that keeps arriving run past upstream.timeouts.body', async () => {
    await withHarness({ timeouts: '    connect: 1s\n    headers: 2s\n    body: 300ms' }, async (h) => {
      h.provider.on('GET /v1.0/users/trickle', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        let left = 10;
        const tick = setInterval(() => {
          res.write(`{"n":${left}},`);
          if (--left === 0) {
            clearInterval(tick);
            res.end('{}');
          }
        }, 100);
      });
      const r = await viaProxy(h, 'https://graph.microsoft.com/v1.0/users/trickle');
      expect(r.status).toBe(200);
      expect(r.body).toBe('{"n":10},{"n":9},{"n":8},{"n":7},{"n":6},{"n":5},{"n":4},{"n":3},{"n":2},{"n":1},{}');
    });
  });

  it('cuts a response whose body falls silent for upstream.timeouts.body, and records why', async () => {
    await withHarness({ timeouts: '    connect: 1s\n    headers: 2s\n    body: 300ms' }, async (h) => {
      h.provider.on('GET /v1.0/users/stalls', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"value":[');
      });
      const outcomes = await outcomesOf(async () => {
        const res = await request('https://graph.microsoft.com/v1.0/users/stalls', { dispatcher: h.agent() });
        expect(res.statusCode).toBe(200);
        await expect(res.body.text()).rejects.toThrow();
      }, (seen) => seen.some((o) => o.kind === 'request'));
      const cut = outcomes.find((o) => o.kind === 'request')!;
      expect([cut.code, cut.reason]).toEqual(['UPSTREAM_TIMEOUT', 'no body data for 300 ms (upstream.timeouts.body)']);
    });
  });

  it('does not count a slow client against upstream.timeouts.body: the provider is held back, not cut', async () => {
    await withHarness({ timeouts: '    connect: 1s\n    headers: 2s\n    body: 300ms' }, async (h) => {
      // More than the sockets on both hops can buffer, so a client that stops reading stops the provider.
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const chunks = 1024;
      let longestHold = 0;
      h.provider.on('GET /v1.0/users/large', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(chunk.length * chunks) });
        let sent = 0;
        const more = (): void => {
          while (sent < chunks) {
            sent++;
            if (!res.write(chunk)) {
              const held = Date.now();
              res.once('drain', () => {
                longestHold = Math.max(longestHold, Date.now() - held);
                more();
              });
              return;
            }
          }
          res.end();
        };
        more();
      });
      const res = await request('https://graph.microsoft.com/v1.0/users/large', { dispatcher: h.agent() });
      expect(res.statusCode).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 900));
      let received = 0;
      for await (const part of res.body) received += (part as Buffer).length;
      expect(received).toBe(chunk.length * chunks);
      expect(longestHold).toBeGreaterThan(300);
    });
  });

  it('ends a request that runs past upstream.timeouts.total with UPSTREAM_TIMEOUT', async () => {
    await withHarness({ timeouts: '    connect: 2s\n    headers: 5s\n    body: 5s\n    total: 400ms' }, async (h) => {
      h.provider.on('GET /v1.0/users/stalled', () => undefined);
      const started = Date.now();
      const r = await viaProxy(h, 'https://graph.microsoft.com/v1.0/users/stalled');
      expect([r.status, r.headers['x-idp-egress-code']]).toEqual([504, 'UPSTREAM_TIMEOUT']);
      expect(r.body).toContain('no complete response within 400 ms (upstream.timeouts.total)');
      expect(Date.now() - started).toBeLessThan(3_000);
    });
  });

  it('stops the provider response when the client goes away mid-body, and records CLIENT_CLOSED with the status it was sent', async () => {
    await withHarness({}, async (h) => {
      let providerClosed!: () => void;
      const closed = new Promise<void>((resolve) => (providerClosed = resolve));
      h.provider.on('GET /v1.0/users/endless', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const tick = setInterval(() => res.write('{"id":"6e7b768e-07e2-4810-8459-000000000000"},'), 5);
        res.once('close', () => {
          clearInterval(tick);
          providerClosed();
        });
      });
      const outcomes = await outcomesOf(async () => {
        const res = await request('https://graph.microsoft.com/v1.0/users/endless', { dispatcher: h.agent() });
        expect(res.statusCode).toBe(200);
        for await (const _chunk of res.body) break; // one chunk, then the client hangs up
        await closed;
      }, (seen) => seen.some((o) => o.kind === 'request'));
      const ended = outcomes.find((o) => o.kind === 'request')!;
      expect([ended.code, ended.reason, ended.status, ended.enforced]).toEqual(['CLIENT_CLOSED', 'the client closed the connection before the response was complete', 200, false]);
    });
  });

  it('maps a refused connection to UPSTREAM_CONNECT', async () => {
    await withHarness({ extra: 'limits:\n  shutdownGrace: 1s' }, async (h) => {
      await h.provider.close();
      const r = await viaProxy(h, 'https://graph.microsoft.com/v1.0/users');
      expect([r.status, r.headers['x-idp-egress-code']]).toEqual([502, 'UPSTREAM_CONNECT']);
    });
  });

  it('maps an untrusted provider certificate to UPSTREAM_TLS', async () => {
    await withHarness({ trustProvider: false }, async (h) => {
      const r = await viaProxy(h, 'https://graph.microsoft.com/v1.0/users');
      expect([r.status, r.headers['x-idp-egress-code']]).toEqual([502, 'UPSTREAM_TLS']);
    });
  });

  it('refuses a provider host that resolves to a private address not exempted', async () => {
    await withHarness({ allowPrivate: ['login.microsoftonline.com'] }, async (h) => {
      const before = h.provider.seen.length;
      const r = await viaProxy(h, 'https://graph.microsoft.com/v1.0/users');
      expect([r.status, r.headers['x-idp-egress-code']]).toEqual([403, 'PRIVATE_ADDRESS']);
      expect(r.body).toContain('graph.microsoft.com resolved to 127.0.0.1 is a loopback address');
      expect(h.provider.seen.length).toBe(before);
      // A refused address is a denial in the audit and the metrics, so SSRF alerts see it.
      const metrics = await h.run.metrics.scrape();
      expect(metrics).toMatch(/idp_egress_requests_total\{provider="entra-id",endpoint="graph\.users\.list",decision="deny",code="PRIVATE_ADDRESS",status_class="4xx"\} 1/);
    });
  });

  it('vets every address DNS returns, and maps a failed lookup to DNS_FAILED', async () => {
    // Hosts outside upstream.resolve go to the resolver; this one is injected, so no real DNS.
    const asked: string[] = [];
    const resolver = async (host: string) => {
      asked.push(host);
      if (host === 'mixed.onelogin.com') return [{ address: '20.190.151.7', family: 4 }, { address: '10.1.2.3', family: 4 }];
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    };
    await withHarness({ resolver, site: 'providers:\n  okta:\n    domain: missing.okta.com\n  onelogin:\n    host: mixed.onelogin.com\n' }, async (h) => {
      const missing = await viaProxy(h, 'https://missing.okta.com/api/v1/users');
      expect([missing.status, missing.headers['x-idp-egress-code']]).toEqual([502, 'DNS_FAILED']);
      expect(missing.body).toContain('missing.okta.com did not resolve (ENOTFOUND)');
      // One public and one private answer: the name is refused, not half-trusted.
      const mixed = await viaProxy(h, 'https://mixed.onelogin.com/api/2/users');
      expect([mixed.status, mixed.headers['x-idp-egress-code']]).toEqual([403, 'PRIVATE_ADDRESS']);
      expect(mixed.body).toContain('mixed.onelogin.com resolved to 10.1.2.3 is a private-use address');
      expect(asked).toEqual(['missing.okta.com', 'mixed.onelogin.com']);
    });
  });
});
