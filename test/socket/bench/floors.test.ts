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

/**
 * Starts the built floor `script`, sends one GET through it trusting `trust`, and returns what the
 * client got and what the provider saw of it.
 */
async function oneRequestThrough(script: string, args: readonly string[], trust: string) {
  const { child, port } = await Child.listening(join(PACKAGE_ROOT, 'dist/bench', script), args);
  // HTTP/1.1 only: through a tunnel the client's own ALPN meets the fake provider's, which
  // offers h2 first and does not speak it (fake-provider.ts).
  const agent = new ProxyAgent({ uri: `http://127.0.0.1:${port}`, requestTls: { ca: trust }, allowH2: false });
  const before = provider.seen.length;
  try {
    const r = await request(`https://${HOST}/v1.0/users/u1/manager`, { dispatcher: agent });
    return { got: { status: r.statusCode, body: await r.body.text() }, seen: provider.seen.slice(before) };
  } finally {
    await agent.close();
    child.kill('SIGTERM');
  }
}

describe('the benchmark floors', () => {
  it('the tunnel floor splices a CONNECT to its one upstream: TLS end to end, the answer back', async () => {
    const { got, seen } = await oneRequestThrough('tunnel-floor.js', ['127.0.0.1', String(provider.port)], providerCa.ca.certPem);
    expect(got).toEqual({ status: 200, body: '{"id":"m1"}' });
    // The client's own TLS reached the provider: its SNI, not a certificate the floor made.
    expect(seen).toMatchObject([{ method: 'GET', url: '/v1.0/users/u1/manager', servername: HOST }]);
  });

  it('the intercept floor terminates TLS with the certificate it is given and sends the request on', async () => {
    const leafCa = await testCa('floor leaf CA');
    const leaf = serverCert(leafCa.ca, [HOST]);
    writeFileSync(join(leafCa.dir, 'key.pem'), leaf.key);
    writeFileSync(join(leafCa.dir, 'cert.pem'), leaf.cert);
    const args = [join(leafCa.dir, 'key.pem'), join(leafCa.dir, 'cert.pem'), providerCa.certFile, String(provider.port), '127.0.0.1'];
    // Trusting only the leaf's CA: the floor, not the provider, answered the client's handshake.
    const { got, seen } = await oneRequestThrough('floor-proxy.js', args, leafCa.ca.certPem);
    expect(got).toEqual({ status: 200, body: '{"id":"m1"}' });
    expect(seen).toMatchObject([{ method: 'GET', url: '/v1.0/users/u1/manager', servername: HOST }]);
  });
});
