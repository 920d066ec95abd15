import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resolver } from '../../../src/proxy/upstream.js';
import { startHarness, viaProxy, type Harness } from '../../support/gateway.js';
import { ParentProxy } from '../../support/parent-proxy.js';
import { completeResponse, openConnect, readUntil, tlsOver } from '../../support/raw.js';
import { auditLines, until } from '../../support/wait.js';

describe('a corporate parent proxy (upstream.proxy)', () => {
  let parent: ParentProxy;
  let h: Harness;
  beforeAll(async () => {
    parent = await ParentProxy.start();
    h = await startHarness({
      parentProxy: parent.url,
      site: 'providers:\n  entra-id: {}\n  okta:\n    domain: acme.okta.com\n    tls: tunnel\n',
      allowPrivate: ['graph.microsoft.com', 'acme.okta.com'],
    });
    parent.targetPort = h.provider.port;
  });
  afterAll(async () => {
    await h.close();
    await parent.close();
  });

  it('carries intercepted requests, which the gateway still judges', async () => {
    const ok = await viaProxy(h, 'https://graph.microsoft.com/v1.0/users');
    expect(ok.status).toBe(200);
    expect(parent.connects).toContain('graph.microsoft.com:443');
    expect(h.provider.seen.at(-1)).toMatchObject({ url: '/v1.0/users', servername: 'graph.microsoft.com' });
    const denied = await viaProxy(h, 'https://graph.microsoft.com/v1.0/users/u1/drive');
    expect(denied.status).toBe(403);
  });

  it('times the provider through the parent as directly: no headers within upstream.timeouts.headers is a 504', async () => {
    h.provider.on('GET /v1.0/users/silent', () => undefined);
    const r = await viaProxy(h, 'https://graph.microsoft.com/v1.0/users/silent');
    expect([r.status, r.headers['x-idp-egress-code']]).toEqual([504, 'UPSTREAM_TIMEOUT']);
    expect(r.body).toContain('no response headers within 2000 ms of the request (upstream.timeouts.headers)');
  });

  it('still vets the address the gateway resolves before handing the name to the parent', async () => {
    // login.microsoftonline.com resolves (upstream.resolve) to loopback without an exemption.
    const r = await viaProxy(h, 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token', { method: 'POST', body: 'x=y' });
    expect([r.status, r.headers['x-idp-egress-code']]).toEqual([403, 'PRIVATE_ADDRESS']);
    expect(parent.connects).not.toContain('login.microsoftonline.com:443');
  });

  it('carries tunnel-mode tunnels', async () => {
    const { head, socket } = await openConnect(h.run.address.port, 'acme.okta.com:443');
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    const tls = await tlsOver(socket, 'acme.okta.com', h.providerCaPem);
    tls.write('GET /api/v1/users HTTP/1.1\r\nHost: acme.okta.com\r\n\r\n');
    const text = await readUntil(tls, completeResponse);
    tls.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(parent.connects).toContain('acme.okta.com:443');
  });
});

describe('a corporate parent proxy that wants credentials', () => {
  it('gets them from user:password@ in upstream.proxy, in both modes; without them the CONNECT says so', async () => {
    const parent = await ParentProxy.start('jira:s3cret/p@ss');
    const site = 'providers:\n  entra-id: {}\n  okta:\n    domain: acme.okta.com\n    tls: tunnel\n';
    const withCredentials = parent.url.replace('http://', 'http://jira:s3cret%2Fp%40ss@');
    const h = await startHarness({ parentProxy: withCredentials, site, allowPrivate: ['graph.microsoft.com', 'acme.okta.com'] });
    parent.targetPort = h.provider.port;
    try {
      expect((await viaProxy(h, 'https://graph.microsoft.com/v1.0/users')).status).toBe(200);
      const { head, socket } = await openConnect(h.run.address.port, 'acme.okta.com:443');
      socket.destroy();
      expect(head).toMatch(/^HTTP\/1\.1 200/);
      expect(parent.connects).toEqual(expect.arrayContaining(['graph.microsoft.com:443', 'acme.okta.com:443']));
    } finally {
      await h.close();
    }
    const bare = await startHarness({ parentProxy: parent.url, site, allowPrivate: ['acme.okta.com'] });
    try {
      const { head, socket } = await openConnect(bare.run.address.port, 'acme.okta.com:443');
      socket.destroy();
      expect(head).toMatch(/^HTTP\/1\.1 502 /);
      expect(head).toContain('the parent proxy answered 407 to CONNECT acme.okta.com:443: it wants credentials, as http://user:password@host:port in upstream.proxy');
    } finally {
      await bare.close();
      await parent.close();
    }
  });
});

describe('a client that leaves while the gateway vets the provider name it hands to a parent proxy', () => {
  it('sends nothing to the parent, and the audit says the client closed, not that the call completed', async () => {
    const parent = await ParentProxy.start();
    // stall.okta.com has no resolve override: its answer waits until the test lets it go.
    let release: (() => void) | undefined;
    const resolver: Resolver = async (host) => {
      if (host !== 'stall.okta.com') throw Object.assign(new Error('not in this test'), { code: 'ENOTFOUND' });
      await new Promise<void>((r) => (release = r));
      return [{ address: '127.0.0.1', family: 4 }];
    };
    const lines: string[] = [];
    const h = await startHarness({
      parentProxy: parent.url,
      site: 'providers:\n  okta: {}\n',
      allowPrivate: ['stall.okta.com'],
      resolver,
      log: 'log:\n  stdout: true',
      stdout: { write: (l: string) => void lines.push(...l.split('\n').filter(Boolean)) },
    });
    parent.targetPort = h.provider.port;
    try {
      const { socket } = await openConnect(h.run.address.port, 'stall.okta.com:443');
      const tls = await tlsOver(socket, 'stall.okta.com', h.gatewayCaPem);
      tls.write('GET /api/v1/users HTTP/1.1\r\nHost: stall.okta.com\r\n\r\n');
      await until(() => release !== undefined, 3_000, 'the gateway asked for the name');
      const closed = new Promise((r) => socket.once('close', r));
      tls.destroy();
      await closed;
      // The gateway sees the close on its side of the tunnel before the answer comes.
      await until(() => h.run.gateway.heldConnections === 0, 3_000, 'the gateway saw the client go');
      release!();
      await until(() => auditLines(lines).some((e) => e.event === 'request'), 3_000, 'the request was audited');
      const request = auditLines(lines).find((e) => e.event === 'request')!;
      // Gone before any answer: no status, and not a provider failure.
      expect(request).toMatchObject({ code: 'CLIENT_CLOSED', decision: 'allow', url: 'https://stall.okta.com/api/v1/users' });
      expect(request['status']).toBeUndefined();
      expect(request.reason).toContain('the client closed the connection');
      expect(parent.connects).not.toContain('stall.okta.com:443');
    } finally {
      await h.close();
      await parent.close();
    }
  });
});
