import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProxyAgent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../../src/core/package-root.js';
import { Child } from '../../support/child.js';
import { FakeProvider } from '../../support/fake-provider.js';
import { serverCert, testCa } from '../../support/pki.js';

// The floors stand beside the gateway in bench:gateway and in the anchors harness
// (bench/anchors/node-floor.sh, node-tunnel-floor.sh): a floor that stopped carrying requests
// would make every ratio against it meaningless, so each carries one here.
const HOST = 'graph.microsoft.com';
let provider: FakeProvider;
let providerCa: Awaited<ReturnType<typeof testCa>>;

beforeAll(async () => {
  providerCa = await testCa();
  provider = await FakeProvider.start(providerCa.ca, [HOST]);
  provider.on('GET /v1.0/users/u1/manager', (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"m1"}'));
});
afterAll(() => provider.close());

async function getThrough(port: number, trust: string) {
  // HTTP/1.1 only: through a tunnel the client's own ALPN meets the fake provider's, which
  // offers h2 first and does not speak it (fake-provider.ts).
  const agent = new ProxyAgent({ uri: `http://127.0.0.1:${port}`, requestTls: { ca: trust }, allowH2: false });
  try {
    const r = await request(`https://${HOST}/v1.0/users/u1/manager`, { dispatcher: agent });
    return { status: r.statusCode, body: await r.body.text() };
  } finally {
    await agent.close();
  }
}

describe('the benchmark floors', () => {
  it('the tunnel floor splices a CONNECT to its one upstream: TLS end to end, the answer back', async () => {
    const { child, port } = await Child.listening(join(PACKAGE_ROOT, 'dist/bench/tunnel-floor.js'), ['127.0.0.1', String(provider.port)]);
    try {
      const before = provider.seen.length;
      expect(await getThrough(port, providerCa.ca.certPem)).toEqual({ status: 200, body: '{"id":"m1"}' });
      // The client's own TLS reached the provider: its SNI, not a certificate the floor made.
      expect(provider.seen.slice(before)).toMatchObject([{ method: 'GET', url: '/v1.0/users/u1/manager', servername: HOST }]);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('the intercept floor terminates TLS with the certificate it is given and sends the request on', async () => {
    const leafCa = await testCa('floor leaf CA');
    const leaf = serverCert(leafCa.ca, [HOST]);
    writeFileSync(join(leafCa.dir, 'key.pem'), leaf.key);
    writeFileSync(join(leafCa.dir, 'cert.pem'), leaf.cert);
    const args = [join(leafCa.dir, 'key.pem'), join(leafCa.dir, 'cert.pem'), providerCa.certFile, String(provider.port), '127.0.0.1'];
    const { child, port } = await Child.listening(join(PACKAGE_ROOT, 'dist/bench/floor-proxy.js'), args);
    try {
      const before = provider.seen.length;
      // Trusting only the leaf's CA: the floor, not the provider, answered the client's handshake.
      expect(await getThrough(port, leafCa.ca.certPem)).toEqual({ status: 200, body: '{"id":"m1"}' });
      expect(provider.seen.slice(before)).toMatchObject([{ method: 'GET', url: '/v1.0/users/u1/manager', servername: HOST }]);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
