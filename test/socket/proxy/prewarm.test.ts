// Dialling the provider while the client handshakes: the first request of a new tunnel uses the
// connection dialled ahead, unused ones close, and a failed dial is reported once, not retried.
import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { Upstream } from '../../../src/proxy/upstream.js';
import { FakeProvider } from '../../support/fake-provider.js';
import { viaProxy, withHarness } from '../../support/gateway.js';
import { testCa } from '../../support/pki.js';
import { completeResponse, openConnect, readUntil, tlsOver } from '../../support/raw.js';
import { until } from '../../support/wait.js';

const TIMEOUTS = { connect: 2_000, headers: 2_000, body: 2_000 };

describe('prewarm', () => {
  it('dials the provider at CONNECT, and the first request inside the tunnel uses that connection', async () => {
    await withHarness({}, async (h) => {
      const { head, socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
      expect(head).toMatch(/^HTTP\/1\.1 200 /);
      // Open before the client has even started its TLS handshake.
      await until(() => h.provider.connections === 1, 3_000, 'the provider has a connection');
      const tls = await tlsOver(socket, 'graph.microsoft.com', h.gatewayCaPem);
      tls.write('GET /v1.0/users HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\n');
      expect(await readUntil(tls, completeResponse)).toMatch(/^HTTP\/1\.1 200 /);
      tls.destroy();
      await viaProxy(h, 'https://graph.microsoft.com/v1.0/groups');
      expect(h.provider.connections).toBe(1);
    });
  });

  it('closes a connection no request took within warmTtlMs', async () => {
    const { ca, certFile } = await testCa();
    const provider = await FakeProvider.start(ca, ['login.microsoftonline.com']);
    const upstream = new Upstream({
      resolve: new Map([['login.microsoftonline.com', { address: '127.0.0.1', port: provider.port }]]),
      allowPrivate: new Set(['login.microsoftonline.com']),
      extraCa: readFileSync(certFile, 'utf8'),
      timeouts: TIMEOUTS,
      warmTtlMs: 150,
    });
    try {
      upstream.prewarm('login.microsoftonline.com', 443);
      await until(() => provider.open === 1, 3_000, 'the dial ahead is open');
      await until(() => provider.open === 0, 3_000, 'the unused connection is closed');
      expect(provider.connections).toBe(1);
    } finally {
      await upstream.close();
      await provider.close();
    }
  });

  it('hands a refused dial to the first request as its error, without dialling again', async () => {
    let lookups = 0;
    const upstream = new Upstream({
      resolve: new Map(),
      allowPrivate: new Set(),
      timeouts: TIMEOUTS,
      resolver: async () => {
        lookups++;
        return [{ address: '10.1.2.3', family: 4 }];
      },
    });
    try {
      upstream.prewarm('sso.corp.example', 443);
      await expect(request('https://sso.corp.example/realms/staff', { dispatcher: upstream.dispatcher })).rejects.toMatchObject({ code: 'PRIVATE_ADDRESS' });
      expect(lookups).toBe(1);
    } finally {
      await upstream.close();
    }
  });
});
