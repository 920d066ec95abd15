import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../support/gateway.js';
import { TENANT } from '../../support/policy.js';
import { completeResponse, openConnect, readUntil, sendRaw, tlsOver } from '../../support/raw.js';

/**
 * The request-smuggling families (reference: hardening section 6c; RFC 9112 section 11.2), each
 * sent to the proxy (absolute-form) and inside an intercepted tunnel. The hidden request asks for
 * /SMUGGLED, a path no policy allows: the fake provider records every byte it receives, and it
 * must never see that path, whatever the gateway answered.
 */
const TOKEN = `/${TENANT}/oauth2/v2.0/token`;
const HIDDEN = 'GET /SMUGGLED HTTP/1.1\r\nHost: login.microsoftonline.com\r\n\r\n';

const FAMILIES: readonly { readonly name: string; readonly head: string; readonly body: string; readonly host?: string }[] = [
  { name: 'CL.TE', head: `POST ${TOKEN} HTTP/1.1\r\nHost: login.microsoftonline.com\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n`, body: `0\r\n\r\n${HIDDEN}` },
  { name: 'TE.CL', head: `POST ${TOKEN} HTTP/1.1\r\nHost: login.microsoftonline.com\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n`, body: `${(HIDDEN.length).toString(16)}\r\n${HIDDEN}\r\n0\r\n\r\n` },
  { name: 'TE.TE xchunked', head: `POST ${TOKEN} HTTP/1.1\r\nHost: login.microsoftonline.com\r\nContent-Length: 5\r\nTransfer-Encoding: xchunked\r\n`, body: `0\r\n\r\n${HIDDEN}` },
  { name: 'TE.TE space before colon', head: `POST ${TOKEN} HTTP/1.1\r\nHost: login.microsoftonline.com\r\nContent-Length: 5\r\nTransfer-Encoding : chunked\r\n`, body: `0\r\n\r\n${HIDDEN}` },
  { name: 'TE.TE chunked then another coding', head: `POST ${TOKEN} HTTP/1.1\r\nHost: login.microsoftonline.com\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n`, body: `0\r\n\r\n${HIDDEN}` },
  { name: 'TE.TE line starting with a space', head: `POST ${TOKEN} HTTP/1.1\r\nHost: login.microsoftonline.com\r\nContent-Length: 5\r\n Transfer-Encoding: chunked\r\n`, body: `0\r\n\r\n${HIDDEN}` },
  { name: 'TE.TE bare LF before the header', head: `POST ${TOKEN} HTTP/1.1\r\nHost: login.microsoftonline.com\r\nContent-Length: 5\r\nX: X\nTransfer-Encoding: chunked\r\n`, body: `0\r\n\r\n${HIDDEN}` },
  { name: 'TE.TE name split by LF', head: `POST ${TOKEN} HTTP/1.1\r\nHost: login.microsoftonline.com\r\nContent-Length: 5\r\nTransfer-Encoding\n: chunked\r\n`, body: `0\r\n\r\n${HIDDEN}` },
  { name: 'CL.CL', head: `POST ${TOKEN} HTTP/1.1\r\nHost: login.microsoftonline.com\r\nContent-Length: 5\r\nContent-Length: ${5 + HIDDEN.length}\r\n`, body: `a=b&c${HIDDEN}` },
  // An allowed GET endpoint: before the fix, these were forwarded body and all.
  { name: 'CL.0 on GET', host: 'graph.microsoft.com', head: `GET /v1.0/users HTTP/1.1\r\nHost: graph.microsoft.com\r\nContent-Length: ${HIDDEN.length}\r\n`, body: HIDDEN },
  { name: 'chunked body on GET', host: 'graph.microsoft.com', head: `GET /v1.0/users HTTP/1.1\r\nHost: graph.microsoft.com\r\nTransfer-Encoding: chunked\r\n`, body: `${HIDDEN.length.toString(16)}\r\n${HIDDEN}\r\n0\r\n\r\n` },
  { name: 'CL.0 on DELETE', host: 'graph.microsoft.com', head: `DELETE /v1.0/users/u1 HTTP/1.1\r\nHost: graph.microsoft.com\r\nContent-Length: ${HIDDEN.length}\r\n`, body: HIDDEN },
  { name: 'chunk-size overflow', head: `POST ${TOKEN} HTTP/1.1\r\nHost: login.microsoftonline.com\r\nTransfer-Encoding: chunked\r\n`, body: `fffffffffffffffff1\r\n${HIDDEN}\r\n0\r\n\r\n` },
  { name: 'bare LF line ends', head: `POST ${TOKEN} HTTP/1.1\nHost: login.microsoftonline.com\nContent-Length: 3\n`, body: `a=b${HIDDEN}`.replace(/\r\n/g, '\n') },
  { name: 'obs-fold', head: `POST ${TOKEN} HTTP/1.1\r\nHost: login.microsoftonline.com\r\nContent-Length: 3\r\nX-Folded: a\r\n Transfer-Encoding: chunked\r\n`, body: `a=b${HIDDEN}` },
  { name: 'bare CR', head: `POST ${TOKEN} HTTP/1.1\r\nHost: login.microsoftonline.com\rContent-Length: 3\r\n`, body: `a=b${HIDDEN}` },
];

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

/** The request, then whatever comes back before the connection closes or goes quiet. */
async function toProxy(bytes: string, host = 'login.microsoftonline.com'): Promise<string> {
  return sendRaw(h.run.address.port, bytes.replace(/^(\w+) \//, `$1 https://${host}/`));
}

async function inTunnel(bytes: string, host = 'login.microsoftonline.com'): Promise<string> {
  const { socket } = await openConnect(h.run.address.port, `${host}:443`);
  const tls = await tlsOver(socket, host, h.gatewayCaPem);
  tls.write(bytes);
  const text = await readUntil(tls, completeResponse, 3_000);
  tls.destroy();
  return text;
}

describe('adversarial: request smuggling', () => {
  for (const f of FAMILIES) {
    it(`${f.name}: refused with a 4xx, and nothing hidden reaches the provider`, async () => {
      const request = `${f.head}\r\n${f.body}`;
      for (const [where, text] of [
        ['to the proxy', await toProxy(request, f.host)],
        ['inside a tunnel', await inTunnel(request, f.host)],
      ] as const) {
        expect(text.split('\r\n')[0], `${f.name} ${where}`).toMatch(/^HTTP\/1\.1 4\d\d /);
        expect(text, `${f.name} ${where}: the refusal closes the connection`).toMatch(/\r\nconnection: close\r\n/i);
      }
      expect(h.provider.received).not.toContain('SMUGGLED');
    });
  }

  it('refuses two Host headers inside a tunnel with 400 (RFC 9112 section 3.2), first or second naming another host', async () => {
    for (const hosts of [['graph.microsoft.com', 'evil.test'], ['evil.test', 'graph.microsoft.com'], ['graph.microsoft.com', 'graph.microsoft.com']]) {
      const text = await inTunnel(`GET /v1.0/users/SMUGGLED HTTP/1.1\r\n${hosts.map((x) => `Host: ${x}\r\n`).join('')}\r\n`, 'graph.microsoft.com');
      expect(text, hosts.join(' then ')).toMatch(/^HTTP\/1\.1 400 /);
      expect(text).toContain('x-idp-egress-code: AMBIGUOUS_REQUEST');
    }
    expect(h.provider.received).not.toContain('SMUGGLED');
  });

  it.each(['X-HTTP-Method-Override: DELETE', 'X-HTTP-Method: DELETE', 'X-Method-Override: PUT', 'X-Original-URL: /SMUGGLED', 'X-Rewrite-URL: /SMUGGLED', 'X-Forwarded-Host: evil.test', 'X-Forwarded-Proto: http', 'X-Forwarded-Prefix: /SMUGGLED', 'Forwarded: host=evil.test'])(
    'refuses a request that asks the provider to act on something else: %s',
    async (header) => {
      for (const text of [
        await inTunnel(`GET /v1.0/users HTTP/1.1\r\nHost: graph.microsoft.com\r\n${header}\r\n\r\n`, 'graph.microsoft.com'),
        await toProxy(`GET /v1.0/users HTTP/1.1\r\nHost: graph.microsoft.com\r\n${header}\r\n\r\n`, 'graph.microsoft.com'),
      ]) {
        expect(text).toMatch(/^HTTP\/1\.1 403 /);
        expect(text).toContain('x-idp-egress-code: OVERRIDE_HEADER_NOT_ALLOWED');
        expect(text).toContain(header.slice(0, header.indexOf(':')));
      }
      expect(h.provider.received).not.toContain(header);
    },
  );

  it('forwards a clean token POST with its body re-framed, and the provider sees exactly that request', async () => {
    const before = h.provider.seen.length;
    const body = 'grant_type=client_credentials&client_id=app';
    const text = await inTunnel(`POST ${TOKEN} HTTP/1.1\r\nHost: login.microsoftonline.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(h.provider.seen.slice(before).map((r) => [r.method, r.url, r.body])).toEqual([['POST', TOKEN, body]]);
  });
});
