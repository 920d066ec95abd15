import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../support/gateway.js';
import { completeResponse, openConnect, readUntil, sendRaw, tlsOver } from '../../support/raw.js';
import { auditLines, until } from '../../support/wait.js';

/** A harness whose audit lines (stdout) the test reads. */
async function capturing(extra = ''): Promise<{ h: Harness; lines: string[] }> {
  const lines: string[] = [];
  const h = await startHarness({
    extra,
    log: 'log:\n  stdout: true',
    stdout: { write: (l: string) => void lines.push(...l.split('\n').filter(Boolean)) },
  });
  return { h, lines };
}

/** Sends `bytes` inside an intercepted tunnel to graph.microsoft.com; the answer. */
async function inTunnel(h: Harness, bytes: string, timeoutMs = 5_000): Promise<string> {
  const { socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
  const tls = await tlsOver(socket, 'graph.microsoft.com', h.gatewayCaPem);
  tls.write(bytes);
  const text = await readUntil(tls, completeResponse, timeoutMs);
  tls.destroy();
  return text;
}

const BAD_REQUESTS: readonly (readonly [string, string, number, string])[] = [
  ['Content-Length with Transfer-Encoding', 'POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'MALFORMED_REQUEST'],
  ['a bad request line', 'GET /x HTTP/1.1 junk\r\nHost: h\r\n\r\n', 400, 'MALFORMED_REQUEST'],
  ['no Host header', 'GET /v1.0/users HTTP/1.1\r\n\r\n', 400, 'MALFORMED_REQUEST'],
  ['an oversized header block', `GET /v1.0/users HTTP/1.1\r\nHost: h\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
];

describe('adversarial: every rejection is an audit event', () => {
  it('audits what the HTTP parser refuses, to the proxy and inside a tunnel, with the request line when it was whole', async () => {
    const { h, lines } = await capturing();
    try {
      for (const [what, bytes, status, code] of BAD_REQUESTS) {
        const toProxy = bytes.replace(' /', ' https://graph.microsoft.com/');
        for (const [where, text] of [
          ['to the proxy', await sendRaw(h.run.address.port, toProxy)],
          ['inside a tunnel', await inTunnel(h, bytes)],
        ] as const) {
          expect(text.split('\r\n')[0], `${what} ${where}`).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
          expect(text, `${what} ${where}`).toContain(`x-idp-egress-code: ${code}`);
        }
      }
      await until(() => auditLines(lines).filter((e) => e['decision'] === 'deny').length === BAD_REQUESTS.length * 2, 3_000, 'every rejection is audited');
      const events = auditLines(lines).filter((e) => e['decision'] === 'deny');
      for (const e of events) expect(e).toMatchObject({ client: '127.0.0.1' });
      // The parser's refusals are connection events; a missing Host is read, so it is a request's.
      expect(events.map((e) => e['event'])).toEqual(BAD_REQUESTS.flatMap(([what]) => (what === 'no Host header' ? ['request', 'request'] : ['connection', 'connection'])));
      expect(events.map((e) => e['code'])).toEqual(BAD_REQUESTS.flatMap(([, , , code]) => [code, code]));
      // Inside a tunnel the event names the tunnel's host; a whole request line is shown.
      expect(events[1]).toMatchObject({ method: 'POST', url: 'https://graph.microsoft.com/x', tls: 'intercept', status: 400 });
      expect(events[0]).toMatchObject({ method: 'POST', url: 'https://graph.microsoft.com/x' });
    } finally {
      await h.close();
    }
  });

  it('says when what came to the proxy port is TLS (a proxy URL written https://) or HTTP/2 with prior knowledge', async () => {
    const { h, lines } = await capturing();
    try {
      // A real client's ClientHello, sent where the proxy expects an HTTP request line.
      const tls = tlsConnect({ port: h.run.address.port, host: '127.0.0.1', servername: 'proxy.example', rejectUnauthorized: false });
      const failed = await new Promise<Error>((resolve) => tls.once('error', resolve));
      expect(failed.message).toMatch(/wrong version number|packet length too long|EPROTO|ECONNRESET|socket disconnected/i);
      const h2 = await sendRaw(h.run.address.port, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
      expect(h2).toMatch(/^HTTP\/1\.1 400 /);
      await until(() => auditLines(lines).filter((e) => e['event'] === 'connection').length === 2, 3_000, 'both are audited');
      const [first, second] = auditLines(lines).filter((e) => e['event'] === 'connection');
      expect(first).toMatchObject({ code: 'MALFORMED_REQUEST', decision: 'deny' });
      expect(first!['reason']).toMatch(/: it is a TLS handshake, so the client was set to reach the proxy over https:\/\/; the proxy port speaks plain HTTP, so give it as http:\/\/HOST:PORT/);
      expect(second!['reason']).toMatch(/: it is HTTP\/2 with prior knowledge; the proxy port speaks HTTP\/1\.1/);
    } finally {
      await h.close();
    }
  });

  it('audits a 408, to the proxy and inside a tunnel', async () => {
    const { h, lines } = await capturing('limits:\n  headersTimeout: 1s');
    try {
      const s = netConnect(h.run.address.port, '127.0.0.1');
      s.write('GET https://graph.microsoft.com/v1.0/users HTTP/1.1\r\n');
      expect(await readUntil(s, completeResponse)).toMatch(/^HTTP\/1\.1 408 /);
      s.destroy();
      expect(await inTunnel(h, 'GET /v1.0/users HTTP/1.1\r\n')).toMatch(/^HTTP\/1\.1 408 /);
      await until(() => auditLines(lines).filter((e) => e['code'] === 'REQUEST_TIMEOUT').length === 2, 3_000, 'both 408s are audited');
      const [outside, inside] = auditLines(lines).filter((e) => e['code'] === 'REQUEST_TIMEOUT');
      // The client's close after its 408 is not a second refusal (the soak saw one per 408).
      await until(() => h.run.gateway.connectionCount === 0, 3_000, 'both connections are closed');
      await h.run.metrics.scrape();
      expect(auditLines(lines).filter((e) => e['decision'] === 'deny').map((e) => e['code'])).toEqual(['REQUEST_TIMEOUT', 'REQUEST_TIMEOUT']);
      expect(outside).toMatchObject({ event: 'connection', decision: 'deny', status: 408, url: '' });
      expect(inside).toMatchObject({ event: 'connection', decision: 'deny', status: 408, url: 'https://graph.microsoft.com', tls: 'intercept' });
    } finally {
      await h.close();
    }
  });

  it("a body the parser refuses while its request is forwarded is that request's one event, answered through its response", async () => {
    const { h, lines } = await capturing();
    try {
      const TOKEN = '/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token';
      const head = (target: string) => `POST ${target} HTTP/1.1\r\nHost: login.microsoftonline.com\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n5\r\ngrant\r\n`;
      const badChunk = 'zz\r\nmore\r\n';
      // To the proxy: the first chunk goes to the provider, then a chunk size that is not hex.
      const toProxy = netConnect(h.run.address.port, '127.0.0.1');
      toProxy.write(head(`https://login.microsoftonline.com${TOKEN}`));
      await until(() => h.run.gateway.activeRequests === 1, 3_000, 'the request is being forwarded');
      toProxy.write(badChunk);
      const answer = await readUntil(toProxy, completeResponse, 3_000);
      toProxy.destroy();
      // Inside a tunnel; then a client that closes its side before the body's last chunk.
      const { socket } = await openConnect(h.run.address.port, 'login.microsoftonline.com:443');
      const tls = await tlsOver(socket, 'login.microsoftonline.com', h.gatewayCaPem);
      tls.write(head(TOKEN));
      await until(() => h.run.gateway.activeRequests === 1, 3_000, 'the tunnel request is being forwarded');
      tls.write(badChunk);
      const inside = await readUntil(tls, completeResponse, 3_000);
      tls.destroy();
      const closing = netConnect(h.run.address.port, '127.0.0.1');
      closing.write(head(`https://login.microsoftonline.com${TOKEN}`));
      await until(() => h.run.gateway.activeRequests === 1, 3_000, 'the third request is being forwarded');
      closing.end();
      await until(() => h.run.gateway.activeRequests === 0, 3_000, 'the third request ended');
      closing.destroy();

      for (const text of [answer, inside]) {
        expect(text).toMatch(/^HTTP\/1\.1 400 /);
        expect(text).toContain('x-idp-egress-code: MALFORMED_REQUEST');
        expect(text).toContain('HPE_INVALID_CHUNK_SIZE');
        expect(text.toLowerCase()).toContain('connection: close');
      }
      await h.run.metrics.scrape();
      await until(() => auditLines(lines).length >= 3, 3_000, 'the three requests are audited');
      const events = auditLines(lines);
      // One event a request: the request's own, with its endpoint; no connection event beside it.
      expect(events.map((e) => [e['event'], e['code'], e['decision'], e['endpoint']])).toEqual([
        ['request', 'MALFORMED_REQUEST', 'deny', 'entra.token'],
        ['connect', 'ALLOWED', 'allow', undefined],
        ['request', 'MALFORMED_REQUEST', 'deny', 'entra.token'],
        ['request', 'MALFORMED_REQUEST', 'deny', 'entra.token'],
      ]);
      expect(events[3]).toMatchObject({ reason: 'the client closed the connection before its request was complete' });
    } finally {
      await h.close();
    }
  });

  it('writes a flood of rejections from one client as 50 lines and one "N more like this", and counts them in /metrics', async () => {
    const { h, lines } = await capturing();
    let closed = false;
    try {
      for (let i = 0; i < 120; i++) {
        const text = await sendRaw(h.run.address.port, 'GET https://evil.test/ HTTP/1.1\r\nHost: evil.test\r\n\r\n');
        expect(text).toMatch(/^HTTP\/1\.1 403 /);
      }
      const metrics = await (await fetch(`http://127.0.0.1:${h.run.adminAddress!.port}/metrics`)).text();
      expect(metrics).toContain('idp_egress_audit_summarised_total{code="HOST_NOT_ALLOWED"} 70');
      expect(metrics).toMatch(/idp_egress_requests_total\{provider="none",endpoint="none",decision="deny",code="HOST_NOT_ALLOWED",status_class="4xx"\} 120/);
      // Closing ends the interval, as SIGTERM does: the summary is written, nothing is lost.
      await h.close();
      closed = true;
      const events = auditLines(lines);
      expect(events.filter((e) => e['code'] === 'HOST_NOT_ALLOWED' && e['event'] === 'request')).toHaveLength(50);
      const summary = events.filter((e) => e['event'] === 'summary');
      expect(summary).toHaveLength(1);
      expect(summary[0]).toMatchObject({ summarises: 'request', client: '127.0.0.1', code: 'HOST_NOT_ALLOWED', decision: 'deny', count: 70, url: 'https://evil.test/' });
      expect(String(summary[0]!['reason'])).toContain('70 more request rejections like this');
    } finally {
      if (!closed) await h.close();
    }
  });

  it('never summarises allowed calls', async () => {
    const { h, lines } = await capturing();
    for (let i = 0; i < 60; i++) {
      const text = await sendRaw(h.run.address.port, 'GET https://graph.microsoft.com/v1.0/users HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\n');
      expect(text).toMatch(/^HTTP\/1\.1 200 /);
    }
    await h.close();
    const events = auditLines(lines);
    expect(events.filter((e) => e['decision'] === 'allow' && e['event'] === 'request')).toHaveLength(60);
    expect(events.filter((e) => e['event'] === 'summary')).toHaveLength(0);
  });
});
