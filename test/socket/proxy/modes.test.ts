import { createHash, randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { ProxyAgent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { OUTCOME_CHANNEL, type Outcome } from '../../../src/audit/outcome.js';
import { viaProxy, withHarness } from '../../support/gateway.js';
import { testCa } from '../../support/pki.js';
import { clientHello, completeResponse, openConnect, readUntil, tlsOver, trickleUntilClosed } from '../../support/raw.js';

describe('tunnel mode', () => {
  it('checks the host and the SNI, then splices: the client talks TLS with the provider itself', async () => {
    await withHarness({ site: 'providers:\n  okta:\n    domain: acme.okta.com\n    tls: tunnel\n  entra-id: {}\n' }, async (h) => {
      const providerCaPem = h.providerCaPem;
      const { head, socket } = await openConnect(h.run.address.port, 'acme.okta.com:443');
      expect(head).toMatch(/^HTTP\/1\.1 200/);
      // Trusting only the provider's CA works: the gateway did not terminate TLS.
      const tls = await tlsOver(socket, 'acme.okta.com', providerCaPem);
      tls.write('GET /api/v1/apps HTTP/1.1\r\nHost: acme.okta.com\r\n\r\n');
      const text = await readUntil(tls, completeResponse);
      tls.destroy();
      // Path rules cannot apply to bytes the gateway cannot read: /api/v1/apps gets through.
      expect(text).toMatch(/^HTTP\/1\.1 200 /);
      expect(h.provider.seen.at(-1)).toMatchObject({ url: '/api/v1/apps', servername: 'acme.okta.com' });

      const fronted = await openConnect(h.run.address.port, 'acme.okta.com:443');
      await expect(tlsOver(fronted.socket, 'graph.microsoft.com', providerCaPem)).rejects.toThrow();

      const denied = await openConnect(h.run.address.port, 'other.okta.com:443');
      denied.socket.destroy();
      expect(denied.head).toContain('x-idp-egress-code: HOST_NOT_ALLOWED');
      // The spliced tunnel and the CONNECTs each in their own family: no request was judged.
      await expect.poll(() => h.run.metrics.scrape()).toMatch(/^idp_egress_tunnels_total\{provider="okta",decision="allow",code="ALLOWED"\} [1-9]/m);
      const metrics = await h.run.metrics.scrape();
      expect(metrics).toMatch(/^idp_egress_connects_total\{provider="none",decision="deny",code="HOST_NOT_ALLOWED"\} 1$/m);
      expect(metrics).not.toMatch(/^idp_egress_requests_total\{provider="okta"/m);
    });
  });

  it('closes a spliced tunnel that carries nothing for limits.idleTimeout, and records it', async () => {
    await withHarness({ site: 'providers:\n  okta:\n    domain: acme.okta.com\n    tls: tunnel\n', extra: 'limits:\n  idleTimeout: 1s' }, async (h) => {
      const { socket } = await openConnect(h.run.address.port, 'acme.okta.com:443');
      const tls = await tlsOver(socket, 'acme.okta.com', h.providerCaPem);
      tls.write('GET /api/v1/users HTTP/1.1\r\nHost: acme.okta.com\r\n\r\n');
      expect(await readUntil(tls, completeResponse)).toMatch(/^HTTP\/1\.1 200 /);
      // The fake provider keeps an idle connection 5 s (Node's default); the gateway's limit is 1 s.
      const started = Date.now();
      const events: Outcome[] = [];
      const listener = (o: unknown) => events.push(o as Outcome);
      subscribe(OUTCOME_CHANNEL.name, listener);
      await new Promise((resolve) => tls.once('close', resolve));
      expect(Date.now() - started).toBeLessThan(3_000);
      await expect.poll(() => events.find((e) => e.kind === 'tunnel')?.reason).toMatch(/; closed after 1000 ms without traffic \(limits\.idleTimeout\)$/);
      unsubscribe(OUTCOME_CHANNEL.name, listener);
    });
  });

  it('carries megabytes from the provider intact and in order to a client that stops reading for a while; what the provider says first comes after the 200', async () => {
    await withHarness({ site: 'providers:\n  okta:\n    domain: acme.okta.com\n    tls: tunnel\n' }, async (h) => {
      // A raw TCP provider on the fake's port: it speaks on accept, before the client's bytes
      // arrive, then answers the ClientHello with 17 MB: 1 MB at once, then 16 MB in 4 KB writes
      // a turn apart. The client stops reading for a while after the first megabyte, so the
      // gateway goes on reading 4 KB chunks while its writes to the client stay pending below
      // the write buffer's limit: the case where a reused read buffer would be overwritten
      // under a write still in flight.
      const port = h.provider.port;
      await h.provider.close();
      const banner = Buffer.from('provider speaks first\n');
      const payload = randomBytes(17 * 1024 * 1024);
      const burst = 1024 * 1024;
      const raw = createNetServer((s) => {
        s.write(banner);
        s.once('data', () => {
          s.write(payload.subarray(0, burst));
          let at = burst;
          const next = () => {
            if (at >= payload.length) return void s.end();
            s.write(payload.subarray(at, (at += 4096)));
            setImmediate(next);
          };
          next();
        });
        s.on('error', () => undefined);
      });
      await new Promise<void>((resolve) => raw.listen(port, '127.0.0.1', resolve));
      try {
        const socket = createConnection(h.run.address.port, '127.0.0.1');
        await new Promise((resolve) => socket.once('connect', resolve));
        socket.write('CONNECT acme.okta.com:443 HTTP/1.1\r\nHost: acme.okta.com:443\r\n\r\n');
        const chunks: Buffer[] = [];
        let received = 0;
        let stalled = false;
        socket.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          received += chunk.length;
          if (!stalled && received > burst) {
            stalled = true;
            socket.pause();
            setTimeout(() => socket.resume(), 500);
          }
        });
        const ended = new Promise((resolve) => socket.once('end', resolve));
        await expect.poll(() => Buffer.concat(chunks).includes('\r\n\r\n')).toBe(true);
        socket.write(await clientHello('acme.okta.com'));
        await ended;
        const all = Buffer.concat(chunks, received);
        const head = all.indexOf('\r\n\r\n') + 4;
        expect(all.subarray(0, head).toString('latin1')).toMatch(/^HTTP\/1\.1 200 /);
        expect(all.subarray(head, head + banner.length)).toEqual(banner);
        const body = all.subarray(head + banner.length);
        expect(body.length).toBe(payload.length);
        expect(createHash('sha256').update(body).digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));
        socket.destroy();
      } finally {
        await new Promise((resolve) => raw.close(resolve));
      }
    });
  });

  it('reports an unreachable provider as a status on the CONNECT, not a dropped tunnel', async () => {
    await withHarness({ site: 'providers:\n  okta:\n    domain: acme.okta.com\n    tls: tunnel\n' }, async (h) => {
      await h.provider.close();
      const { head, socket } = await openConnect(h.run.address.port, 'acme.okta.com:443');
      socket.destroy();
      expect(head).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
      expect(head).toContain('x-idp-egress-code: UPSTREAM_CONNECT');
    });
  });
});

describe('who may use the proxy', () => {
  it('refuses clients outside the clients list with CLIENT_NOT_ALLOWED', async () => {
    await withHarness({ extra: 'clients: [10.20.0.0/16]' }, async (h) => {
      const r = await request('https://graph.microsoft.com/v1.0/users', { dispatcher: h.agent() }).catch((e: Error) => e);
      expect(String(r)).toMatch(/403/);
      const { head, socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
      socket.destroy();
      expect(head).toContain('x-idp-egress-code: CLIENT_NOT_ALLOWED');
      expect(head).toContain('client 127.0.0.1 is not in the config');
    });
  });

  it('closes the connection after refusing a client whose request declared a body, without reading the rest', async () => {
    await withHarness({ extra: 'clients: [10.20.0.0/16]' }, async (h) => {
      const socket = createConnection(h.run.address.port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      const text = await trickleUntilClosed(socket, 'POST https://graph.microsoft.com/v1.0/users HTTP/1.1\r\nHost: graph.microsoft.com\r\nContent-Length: 1000\r\n\r\n{');
      expect(text).toMatch(/^HTTP\/1\.1 403 /);
      expect(text).toContain('x-idp-egress-code: CLIENT_NOT_ALLOWED');
      expect(text.toLowerCase()).toContain('\r\nconnection: close\r\n');
    });
  });

  it('asks for Basic proxy credentials when proxyAuth is set, and takes the right ones', async () => {
    const { dir } = await testCa();
    const passwordFile = join(dir, 'proxy-password');
    writeFileSync(passwordFile, 'canary-proxy-password\n');
    await withHarness({ extra: `proxyAuth:\n  username: jira\n  passwordFile: ${passwordFile}` }, async (h) => {
      const { head, socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
      socket.destroy();
      expect(head).toMatch(/^HTTP\/1\.1 407 Proxy Authentication Required\r\n/);
      expect(head).toContain('proxy-authenticate: Basic realm="idp-egress"');
      const wrong = new ProxyAgent({ uri: h.proxyUrl, token: `Basic ${Buffer.from('jira:nope').toString('base64')}`, requestTls: { ca: h.gatewayCaPem } });
      await expect(request('https://graph.microsoft.com/v1.0/users', { dispatcher: wrong })).rejects.toThrow(/407/);
      await wrong.close();
      const right = h.agent({ token: `Basic ${Buffer.from('jira:canary-proxy-password').toString('base64')}` });
      expect((await viaProxy(h, 'https://graph.microsoft.com/v1.0/users', { agent: right })).status).toBe(200);
    });
  });
});

describe('reloading who may use the proxy', () => {
  it('applies a new clients list and proxyAuth on reload, and names the settings that wait for a restart', async () => {
    await withHarness({}, async (h) => {
      expect((await viaProxy(h, 'https://graph.microsoft.com/v1.0/users')).status).toBe(200);
      const passwordFile = join(h.dir, 'proxy-password');
      writeFileSync(passwordFile, 'canary-proxy-password\n');
      const original = readFileSync(h.configFile, 'utf8');
      writeFileSync(h.configFile, `${original}\nclients: [10.20.0.0/16]\nlimits:\n  idleTimeout: 5s\n`);
      const narrowed = h.run.reload();
      expect(narrowed).toMatchObject({ ok: true, restartNeeded: ['limits'] });
      const refused = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
      refused.socket.destroy();
      expect(refused.head).toContain('x-idp-egress-code: CLIENT_NOT_ALLOWED');

      writeFileSync(h.configFile, `${original}\nproxyAuth:\n  username: jira\n  passwordFile: ${passwordFile}\n`);
      expect(h.run.reload()).toMatchObject({ ok: true, restartNeeded: [] });
      const challenged = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
      challenged.socket.destroy();
      expect(challenged.head).toMatch(/^HTTP\/1\.1 407 /);

      // A password file that is gone refuses the reload at its line; the access in force stays.
      writeFileSync(h.configFile, `${original}\nproxyAuth:\n  username: jira\n  passwordFile: ${join(h.dir, 'gone')}\n`);
      const broken = h.run.reload();
      expect(broken.ok).toBe(false);
      expect(broken.ok ? '' : broken.error.message).toMatch(/idp-egress\.yaml:\d+:\d+ proxyAuth\.passwordFile: cannot read .*gone \(no such file\)/);
      const still = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
      still.socket.destroy();
      expect(still.head).toMatch(/^HTTP\/1\.1 407 /);
    });
  });
});

describe('observe mode', () => {
  it('forwards what enforce would deny, but never domain fronting or malformed requests', async () => {
    await withHarness({ extra: 'mode: observe' }, async (h) => {
      const before = h.provider.seen.length;
      const r = await viaProxy(h, 'https://graph.microsoft.com/v1.0/users/u1/drive');
      expect(r.status).toBe(200);
      expect(h.provider.seen.length).toBe(before + 1);
      const { socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
      const tls = await tlsOver(socket, 'graph.microsoft.com', h.gatewayCaPem);
      tls.write('GET /v1.0/users HTTP/1.1\r\nHost: www.googleapis.com\r\n\r\n');
      const text = await readUntil(tls, completeResponse);
      tls.destroy();
      expect(text).toContain('x-idp-egress-code: HOST_HEADER_MISMATCH');
    });
  });
});
