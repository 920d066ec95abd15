import { spawn, execFile } from 'node:child_process';
import { promises as dnsPromises } from 'node:dns';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProbe } from '../../../src/cli/probe.js';
import { runCli } from '../../../src/cli/program.js';
import { loadPolicy } from '../../../src/policy/load.js';
import type { ProbeResult } from '../../../src/probe/run.js';
import type { Resolver } from '../../../src/proxy/upstream.js';
import { DAY_MS } from '../../../src/tls/certificate.js';
import { BIN } from '../../support/child.js';
import { FakeProvider } from '../../support/fake-provider.js';
import { withHarness } from '../../support/gateway.js';
import { ParentProxy } from '../../support/parent-proxy.js';
import { testCa } from '../../support/pki.js';
import { needs } from '../../support/tools.js';
import { eventually } from '../../support/wait.js';

const run = promisify(execFile);
const TENANT = '11111111-2222-3333-4444-555555555555';
const HOSTS = ['login.microsoftonline.com', 'graph.microsoft.com', 'sso.example.org'];

interface Outcome {
  status: number;
  out: string;
  err: string;
  results: ProbeResult[];
}

/** A site with Entra and Keycloak whose hosts all point at `port` on loopback, unless `site` says otherwise. */
function site(port: number, caFile: string, extra = ''): string {
  return `providers:
  entra-id:
    tenant: ${TENANT}
  keycloak:
    baseUrl: https://sso.example.org:8443
    realm: staff
upstream:
  ca: ${caFile}
  allowPrivate: [${HOSTS.join(', ')}]
  resolve:
    login.microsoftonline.com: 127.0.0.1:${port}
    graph.microsoft.com: 127.0.0.1:${port}
    sso.example.org: 127.0.0.1:${port}
${extra}`;
}

async function probe(config: string, args: string[] = [], resolver?: Resolver): Promise<Outcome> {
  const cwd = mkdtempSync(join(tmpdir(), 'probe-'));
  writeFileSync(join(cwd, 'idp-egress.yaml'), config);
  let out = '';
  let err = '';
  const io = { out: (t: string) => (out += t), err: (t: string) => (err += t), cwd };
  // The command line has no DNS server option; the resolver seam is for the dnsmasq test.
  const status = resolver ? await runProbe(loadPolicy({ cwd }), { json: true, timeout: '1500', resolver }, io) : await runCli(['probe', '--json', '--timeout', '1500', ...args], io);
  const results = status === 0 || status === 2 ? (JSON.parse(out) as { results: ProbeResult[] }).results : [];
  return { status, out, err, results };
}

const byHost = (o: Outcome, host: string) => o.results.find((r) => r.host === host)!;

/** A TCP server on loopback that does `onSocket` with every connection. */
async function tcpServer(onSocket: (s: Socket) => void): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    onSocket(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('idp-egress probe, directly', () => {
  let ca: Awaited<ReturnType<typeof testCa>>;
  let provider: FakeProvider;
  beforeAll(async () => {
    ca = await testCa();
    provider = await FakeProvider.start(ca.ca, HOSTS);
    provider.on('POST /', (_req, res) => res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}'));
  });
  afterAll(() => provider.close());

  it('passes every step to a working provider, and sends a token request with no credentials', async () => {
    const o = await probe(site(provider.port, ca.certFile));
    expect(o.status).toBe(0);
    expect(o.results.map((r) => [r.host, r.verdict, r.steps.map((s) => s.step)])).toEqual([
      ['graph.microsoft.com', 'ok', ['dns', 'tcp', 'tls', 'http']],
      ['login.microsoftonline.com', 'ok', ['dns', 'tcp', 'tls', 'http']],
      ['sso.example.org', 'ok', ['dns', 'tcp', 'tls', 'http']],
    ]);
    expect(byHost(o, 'login.microsoftonline.com').steps.at(-1)!.detail).toBe(`POST /${TENANT}/oauth2/v2.0/token: 401`);
    const token = provider.seen.find((r) => r.url === `/${TENANT}/oauth2/v2.0/token`)!;
    expect(token.body).toBe('grant_type=client_credentials');
    expect(token.headers['authorization']).toBeUndefined();
    expect(token.servername).toBe('login.microsoftonline.com');
    expect(provider.seen.find((r) => r.host === 'sso.example.org:8443')!.url).toBe('/realms/staff/protocol/openid-connect/token');
  });

  it('reads upstream.resolve and allowPrivate names as the gateway does: any case, trailing dot', async () => {
    const config = site(provider.port, ca.certFile)
      .replace('allowPrivate: [login.microsoftonline.com,', 'allowPrivate: [LOGIN.MicrosoftOnline.com.,')
      .replace('    login.microsoftonline.com: 127.0.0.1', '    Login.MicrosoftOnline.COM.: 127.0.0.1');
    expect(config).toContain('Login.MicrosoftOnline.COM.: 127.0.0.1');
    const r = byHost(await probe(config, ['--provider', 'entra-id']), 'login.microsoftonline.com');
    expect(r.verdict).toBe('ok');
    expect(r.steps[0]).toMatchObject({ step: 'dns', detail: '127.0.0.1 (upstream.resolve)' });
  });

  it('prints a table with a verdict per host and a summary', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'probe-'));
    writeFileSync(join(cwd, 'idp-egress.yaml'), site(provider.port, ca.certFile));
    let out = '';
    expect(await runCli(['probe', '--provider', 'keycloak'], { out: (t) => (out += t), err: () => undefined, cwd })).toBe(0);
    expect(out).toMatch(/^Probing directly from this host\n\nPROVIDER +HOST +DNS +TCP +TLS +HTTP +VERDICT\nkeycloak +sso\.example\.org:8443 +127\.0\.0\.1 \(pinned\) +\d+ ms +TLSv1\.3 +401 +ok\n\n1 host\(s\): 1 ok, 0 failed, 0 not probed\n$/);
  });

  it('a certificate from a CA this host does not trust: PROBE_CERT_UNTRUSTED', async () => {
    const other = await testCa('some inspecting proxy CA');
    const o = await probe(site(provider.port, other.certFile));
    expect(o.status).toBe(2);
    const r = byHost(o, 'graph.microsoft.com');
    expect(r.failure).toMatchObject({ code: 'PROBE_CERT_UNTRUSTED' });
    expect(r.failure!.fix).toContain('upstream.ca');
    expect(r.steps.map((s) => [s.step, s.ok])).toEqual([['dns', true], ['tcp', true], ['tls', false]]);
  });

  it('an expired certificate: PROBE_CERT_EXPIRED; one for other names: PROBE_CERT_NAME_MISMATCH', async () => {
    const expired = await FakeProvider.start(ca.ca, HOSTS, 0, { notBefore: new Date(Date.now() - 60 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) });
    const wrongName = await FakeProvider.start(ca.ca, ['portal.example.net']);
    try {
      expect(byHost(await probe(site(expired.port, ca.certFile)), 'graph.microsoft.com').failure!.code).toBe('PROBE_CERT_EXPIRED');
      expect(byHost(await probe(site(wrongName.port, ca.certFile)), 'graph.microsoft.com').failure!.code).toBe('PROBE_CERT_NAME_MISMATCH');
    } finally {
      await expired.close();
      await wrongName.close();
    }
  });

  it('nothing listening: PROBE_CONNECT_REFUSED', async () => {
    const closed = await tcpServer(() => undefined);
    await closed.close();
    const r = byHost(await probe(site(closed.port, ca.certFile)), 'login.microsoftonline.com');
    expect(r.failure).toMatchObject({ code: 'PROBE_CONNECT_REFUSED', what: `TCP connect to login.microsoftonline.com:443 was refused` });
  });

  it('a reset when the ClientHello arrives (a firewall filtering on the server name): PROBE_TLS_RESET', async () => {
    const resetter = await tcpServer((s) => s.once('data', () => s.resetAndDestroy()));
    try {
      const r = byHost(await probe(site(resetter.port, ca.certFile)), 'login.microsoftonline.com');
      expect(r.failure!.code).toBe('PROBE_TLS_RESET');
      expect(r.failure!.fix).toContain('"Connection reset"');
    } finally {
      await resetter.close();
    }
  });

  it('a server that never answers the ClientHello: PROBE_TLS_TIMEOUT, within the step bound', async () => {
    const silent = await tcpServer(() => undefined);
    try {
      const started = Date.now();
      const r = byHost(await probe(site(silent.port, ca.certFile), ['--timeout', '300']), 'login.microsoftonline.com');
      expect(r.failure!.code).toBe('PROBE_TLS_TIMEOUT');
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await silent.close();
    }
  });

  it('a provider failing with 503: PROBE_HTTP_STATUS; one that never answers: PROBE_HTTP_TIMEOUT', async () => {
    const failing = await FakeProvider.start(ca.ca, HOSTS);
    failing.on('POST /', (_req, res) => res.writeHead(503).end());
    failing.on('GET /', () => undefined);
    try {
      const o = await probe(site(failing.port, ca.certFile), ['--timeout', '500']);
      expect(byHost(o, 'login.microsoftonline.com').failure).toMatchObject({ code: 'PROBE_HTTP_STATUS', what: 'login.microsoftonline.com answered 503' });
      expect(byHost(o, 'graph.microsoft.com').failure!.code).toBe('PROBE_HTTP_TIMEOUT');
    } finally {
      await failing.close();
    }
  });

  it('an address the gateway refuses to dial: PROBE_PRIVATE_ADDRESS with the allowPrivate fix', async () => {
    const o = await probe(site(provider.port, ca.certFile).replace(/ {2}allowPrivate: .*\n/, ''));
    const r = byHost(o, 'graph.microsoft.com');
    expect(r.failure!.code).toBe('PROBE_PRIVATE_ADDRESS');
    expect(r.failure!.what).toBe('graph.microsoft.com resolves to an address the gateway refuses to dial: 127.0.0.1 is a loopback address (127.0.0.0/8, RFC 1122, not globally reachable)');
    expect(r.failure!.fix).toContain('upstream.allowPrivate');
  });
});

const DNSMASQ = needs(['dnsmasq'], 'apt-get install dnsmasq-base');
const IPTABLES = needs(['iptables', 'unshare', 'ip'], 'apt-get install iptables iproute2', { root: true });

describe.skipIf(DNSMASQ.skip)(`idp-egress probe, DNS from a real resolver on loopback (dnsmasq)${DNSMASQ.why}`, () => {
  let dnsmasq: ReturnType<typeof spawn>;
  let port = 0;
  beforeAll(async () => {
    // A random port below Linux's ephemeral range (32768 up), where the suite's own connections
    // take theirs; dnsmasq exits when its port is taken anyway, and then another is tried.
    for (let attempt = 1; ; attempt++) {
      port = 10_000 + Math.floor(Math.random() * 20_000);
      dnsmasq = spawn('dnsmasq', ['-k', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv', '--no-hosts', '--conf-file=/dev/null', '--pid-file=', '--local=/test/', '--address=/intranet.test/10.1.2.3'], { stdio: 'ignore' });
      const exited = new Promise<'exited'>((resolve) => dnsmasq.once('exit', () => resolve('exited')));
      const answered = eventually(() => resolver('acme.intranet.test'), 5_000, `dnsmasq answers on loopback port ${port}`).then(() => 'answered' as const);
      if ((await Promise.race([answered, exited])) === 'answered') return;
      await answered.catch(() => undefined);
      if (attempt === 5) throw new Error(`dnsmasq exited on 5 ports in a row (last ${port}); run it by hand to see why`);
    }
  });
  afterAll(() => void dnsmasq.kill());

  /** Like getaddrinfo, but asking only the loopback dnsmasq. */
  const resolver: Resolver = async (host) => {
    const r = new dnsPromises.Resolver({ timeout: 500, tries: 1 });
    r.setServers([`127.0.0.1:${port}`]);
    const answers = await Promise.allSettled([r.resolve4(host).then((a) => a.map((address) => ({ address, family: 4 }))), r.resolve6(host).then((a) => a.map((address) => ({ address, family: 6 })))]);
    const found = answers.flatMap((a) => (a.status === 'fulfilled' ? a.value : []));
    if (found.length === 0) throw (answers[0] as PromiseRejectedResult).reason;
    return found;
  };

  it('a name that does not exist: PROBE_NXDOMAIN; one with a private answer: PROBE_PRIVATE_ADDRESS', async () => {
    const config = `providers:\n  keycloak:\n    baseUrl: https://sso.missing.test\n  onelogin:\n    host: acme.intranet.test\n`;
    const o = await probe(config, [], resolver);
    expect(o.status).toBe(2);
    expect(byHost(o, 'sso.missing.test').failure).toMatchObject({ code: 'PROBE_NXDOMAIN', what: 'sso.missing.test does not resolve (ENOTFOUND: no such name)' });
    expect(byHost(o, 'acme.intranet.test').failure!.what).toBe('acme.intranet.test resolves to an address the gateway refuses to dial: 10.1.2.3 is a private-use address (10.0.0.0/8, RFC 1918, not globally reachable)');
  });
});

describe.skipIf(IPTABLES.skip)(`idp-egress probe, connect timeout${IPTABLES.why}`, () => {
  it('SYNs dropped by a firewall (iptables, in a private network namespace): PROBE_CONNECT_TIMEOUT', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'probe-ns-'));
    const ca = await testCa();
    writeFileSync(join(dir, 'idp-egress.yaml'), site(9443, ca.certFile));
    const script = `ip link set lo up && iptables -A INPUT -p tcp --dport 9443 --syn -j DROP && exec node ${BIN} probe --provider keycloak --timeout 400 --json`;
    const { stdout } = await run('unshare', ['-n', 'sh', '-c', script], { cwd: dir }).catch((e: { stdout: string; code: number }) => ({ stdout: e.stdout, code: e.code }));
    const r = (JSON.parse(stdout) as { results: ProbeResult[] }).results[0]!;
    expect(r.failure).toMatchObject({ code: 'PROBE_CONNECT_TIMEOUT', what: 'TCP connect to sso.example.org:8443 timed out' });
  });
});

describe('idp-egress probe --via', () => {
  it('through the gateway: every host passes, trusting the gateway CA inside the tunnel', async () => {
    await withHarness({}, async (h) => {
      let out = '';
      const status = await runCli(['probe', '--config', h.configFile, '--via', h.proxyUrl, '--provider', 'entra-id', '--json'], { out: (t) => (out += t), err: () => undefined, cwd: h.dir });
      const results = (JSON.parse(out) as { via: string; results: ProbeResult[] }).results;
      expect(status, out).toBe(0);
      expect(results.map((r) => [r.host, r.verdict, r.steps.map((s) => s.step)])).toEqual([
        ['graph.microsoft.com', 'ok', ['tcp', 'proxy', 'tls', 'http']],
        ['login.microsoftonline.com', 'ok', ['tcp', 'proxy', 'tls', 'http']],
      ]);
      expect(results[0]!.steps.find((s) => s.step === 'tls')!.detail).toContain('issued by idp-egress');
    });
  });

  it('a host the gateway does not allow: PROBE_PROXY_REFUSED naming its code', async () => {
    await withHarness({}, async (h) => {
      const cwd = mkdtempSync(join(tmpdir(), 'probe-'));
      writeFileSync(join(cwd, 'idp-egress.yaml'), 'providers:\n  keycloak:\n    baseUrl: https://sso.elsewhere.example\n');
      let out = '';
      const status = await runCli(['probe', '--via', `http://user:s3cret-canary@127.0.0.1:${h.run.address.port}`, '--json'], { out: (t) => (out += t), err: () => undefined, cwd });
      expect(status).toBe(2);
      const r = (JSON.parse(out) as { via: string; results: ProbeResult[] }).results[0]!;
      expect(r.failure!.code).toBe('PROBE_PROXY_REFUSED');
      expect(r.failure!.what).toMatch(/^the proxy answered CONNECT sso\.elsewhere\.example:443 with 403 HOST_NOT_ALLOWED/);
      expect(r.failure!.fix).toContain('idp-egress explain');
      expect(out).not.toContain('s3cret-canary');
    });
  });

  it('refuses what it cannot do, saying how to fix it', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'probe-'));
    let err = '';
    const io = { out: () => undefined, err: (t: string) => (err += t), cwd };
    expect(await runCli(['probe', '--via', 'https://jira:s3cret-canary@proxy.example:8443'], io)).toBe(1);
    expect(err).toContain('only http:// proxies are supported');
    expect(await runCli(['probe', '--via', 'http://jira:s3cret-canary@proxy.example:8080/path'], io)).toBe(1);
    expect(err).toContain('a proxy URL has no path');
    expect(await runCli(['probe', '--via', 'http://jira:s3cret-canary-100%off@proxy.example:8080'], io)).toBe(1);
    expect(err).toContain('--via "http://[REDACTED]@proxy.example:8080": the user or password has a malformed %-escape: write a literal % as %25');
    expect(err).not.toContain('s3cret-canary');
    expect(await runCli(['probe', '--timeout', 'soon'], io)).toBe(1);
    expect(err).toContain('e.g. --timeout 5000');
    expect(await runCli(['probe', '--provider', 'nosuch'], io)).toBe(1);
    expect(err).toContain('provider "nosuch" is not enabled');
  });
});

describe('idp-egress probe with upstream.proxy', () => {
  it('takes the path the gateway takes: through its parent proxy, without --via', async () => {
    const ca = await testCa();
    const provider = await FakeProvider.start(ca.ca, HOSTS);
    const parent = await ParentProxy.start();
    parent.targetPort = provider.port;
    try {
      const config = `providers:\n  entra-id:\n    tenant: ${TENANT}\nupstream:\n  ca: ${ca.certFile}\n  proxy: ${parent.url}\n`;
      const o = await probe(config, ['--provider', 'entra-id']);
      expect(o.status).toBe(0);
      expect(JSON.parse(o.out).via).toBe(`${parent.url} (upstream.proxy)`);
      expect(parent.connects.sort()).toEqual(['graph.microsoft.com:443', 'login.microsoftonline.com:443']);
      expect(o.results.every((r) => r.steps.map((s) => s.step).join() === 'tcp,proxy,tls,http')).toBe(true);
    } finally {
      await parent.close();
      await provider.close();
    }
  });
});
