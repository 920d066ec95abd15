// Real clients through the gateway: curl, Java 17's HttpClient (the customer is a JVM), and many
// concurrent keep-alive clients.
import { execFile } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ProxyAgent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTCOME_CHANNEL, type Outcome } from '../../../src/audit/outcome.js';
import { leafNames } from '../../../src/policy/compile.js';
import { caTruststore } from '../../../src/tls/truststore.js';
import { startHarness, withHarness, type Harness } from '../../support/gateway.js';
import { openConnect, tlsOver } from '../../support/raw.js';
import { needs } from '../../support/tools.js';
import { until } from '../../support/wait.js';

const run = promisify(execFile);
const TENANT = '11111111-2222-3333-4444-555555555555';

let h: Harness;
let caFile: string;
beforeAll(async () => {
  h = await startHarness();
  caFile = join(h.dir, 'gateway-ca.pem');
  writeFileSync(caFile, h.gatewayCaPem);
});
afterAll(() => h.close());

const CURL = needs(['curl'], 'apt-get install curl');
const JDK = needs(['javac', 'java'], 'apt-get install openjdk-17-jdk-headless');

describe.skipIf(CURL.skip)(`curl${CURL.why}`, () => {
  const curl = (url: string, extra: string[] = []) =>
    run('curl', ['-sS', '--max-time', '10', '--proxy', h.proxyUrl, '--cacert', caFile, '-D', '-', '-o', '/dev/null', ...extra, url]).catch(
      (e: { stdout: string; stderr: string; code: number }) => e,
    );

  it('gets an allowed Graph page', async () => {
    const { stdout } = await curl('https://graph.microsoft.com/v1.0/users?$top=999');
    expect(stdout).toMatch(/HTTP\/1\.1 200 Connection Established\r\n\r\nHTTP\/1\.1 200 /);
  });

  it('posts the token request', async () => {
    const { stdout } = await curl(`https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`, ['--data', 'grant_type=client_credentials&client_id=a&client_secret=b']);
    expect(stdout).toMatch(/\r\nHTTP\/1\.1 200 /);
    expect(h.provider.seen.at(-1)).toMatchObject({ method: 'POST', body: 'grant_type=client_credentials&client_id=a&client_secret=b' });
  });

  it('shows the code of a denied path', async () => {
    const { stdout } = await curl('https://www.googleapis.com/drive/v3/files');
    expect(stdout).toMatch(/\r\nHTTP\/1\.1 403 Forbidden\r\n/);
    expect(stdout).toContain('x-idp-egress-code: PATH_NOT_ALLOWED');
  });

  it("that does not trust the gateway's CA is audited once, as the tunnel's CLIENT_TLS_FAILED, not also as a refused request", async () => {
    const seen: Outcome[] = [];
    const listener = (o: unknown) => void seen.push(o as Outcome);
    subscribe(OUTCOME_CHANNEL.name, listener);
    try {
      // No --cacert: curl refuses the minted leaf with an unknown_ca alert, as a JVM without the
      // CA sends certificate_unknown ("PKIX path building failed").
      const r = (await run('curl', ['-sS', '--max-time', '10', '--proxy', h.proxyUrl, '-o', '/dev/null', 'https://graph.microsoft.com/v1.0/users']).catch((e: { stderr: string }) => e)) as { stderr: string };
      expect(r.stderr).toMatch(/certificate/i);
      await until(() => seen.some((o) => o.code === 'CLIENT_TLS_FAILED'), 3_000, 'the failed handshake is audited');
      // Whatever else the failed handshake would publish comes with its close: give it a moment.
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      unsubscribe(OUTCOME_CHANNEL.name, listener);
    }
    expect(seen.map((o) => `${o.kind} ${o.code}`).sort()).toEqual(['connect ALLOWED', 'connect CLIENT_TLS_FAILED']);
  });

  it('shows the CONNECT refusal of a denied host', async () => {
    const r = await curl('https://example.com/');
    expect(r.stdout).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(r.stdout).toContain('x-idp-egress-code: HOST_NOT_ALLOWED');
  });
});

/** Java's HttpClient with the exported PKCS#12 as its trust store; one output line per call. */
async function javaSync(proxyPort: number, caPem: string, urls: string[]): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'idp-egress-java-'));
  const store = join(dir, 'truststore.p12');
  writeFileSync(store, caTruststore(caPem, 'idp-egress-ca', 'changeit'));
  await run('javac', ['-d', dir, new URL('../../fixtures/java/SyncClient.java', import.meta.url).pathname]);
  const { stdout } = await run(
    'java',
    [
      '-cp',
      dir,
      '-Dhttps.proxyHost=127.0.0.1',
      `-Dhttps.proxyPort=${proxyPort}`,
      '-Dhttp.nonProxyHosts=',
      `-Djavax.net.ssl.trustStore=${store}`,
      '-Djavax.net.ssl.trustStoreType=PKCS12',
      '-Djavax.net.ssl.trustStorePassword=changeit',
      'SyncClient',
      TENANT,
      ...urls,
    ],
    { timeout: 60_000 },
  );
  return stdout.trim().split('\n');
}

describe.skipIf(JDK.skip)(`Java 17 HttpClient${JDK.why}`, () => {
  it('posts the Entra token request and reads Graph through the gateway, trusting the exported PKCS#12', async () => {
    const lines = await javaSync(h.run.address.port, h.gatewayCaPem, [
      'https://graph.microsoft.com/v1.0/users?$select=id&$top=999',
      'https://graph.microsoft.com/v1.0/groups/g1/transitiveMembers',
      'https://graph.microsoft.com/v1.0/users/u1/messages',
    ]);
    expect(lines).toEqual([
      `200 - https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`,
      '200 - https://graph.microsoft.com/v1.0/users?$select=id&$top=999',
      '200 - https://graph.microsoft.com/v1.0/groups/g1/transitiveMembers',
      '403 PATH_NOT_ALLOWED https://graph.microsoft.com/v1.0/users/u1/messages',
    ]);
  }, 90_000);

  it('without the CA in its trust store fails with "PKIX path building failed", which the audit records once, as CLIENT_TLS_FAILED', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'idp-egress-java-'));
    await run('javac', ['-d', dir, new URL('../../fixtures/java/SyncClient.java', import.meta.url).pathname]);
    const seen: Outcome[] = [];
    const listener = (o: unknown) => void seen.push(o as Outcome);
    subscribe(OUTCOME_CHANNEL.name, listener);
    try {
      // The JVM's own cacerts: what a Jira server has before `idp-egress jvm` is applied.
      const failed = (await run('java', ['-cp', dir, '-Dhttps.proxyHost=127.0.0.1', `-Dhttps.proxyPort=${h.run.address.port}`, 'SyncClient', TENANT], { timeout: 60_000 }).then(
        () => ({ stderr: '' }),
        (e: { stderr: string }) => e,
      )) as { stderr: string };
      expect(failed.stderr).toContain('PKIX path building failed');
      await until(() => seen.some((o) => o.code === 'CLIENT_TLS_FAILED'), 3_000, 'the failed handshake is audited');
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      unsubscribe(OUTCOME_CHANNEL.name, listener);
    }
    expect(seen.map((o) => `${o.kind} ${o.code}`).sort()).toEqual(['connect ALLOWED', 'connect CLIENT_TLS_FAILED']);
    expect(seen.find((o) => o.code === 'CLIENT_TLS_FAILED')!.reason).toMatch(/does it trust the idp-egress CA\? see idp-egress jvm$/);
  }, 90_000);
});

describe.skipIf(JDK.skip)(`leaves minted from the policy${JDK.why}`, () => {
  it('are ready before the first request, and an unbound Okta org shares one *.okta.com leaf that Java and Node accept', async () => {
    await withHarness({ site: `providers:\n  entra-id:\n    tenant: ${TENANT}\n  okta: {}\n` }, async (w) => {
      // Minted at start: Entra's hosts and the unbound Okta org's wildcards.
      const names = leafNames(w.run.policy());
      expect(names).toEqual(expect.arrayContaining(['login.microsoftonline.com', 'graph.microsoft.com', '*.okta.com']));
      const mints = async () => (await w.run.metrics.registry.getSingleMetricAsString('idp_egress_leaf_mints_total')).split('\n').at(-1);
      await expect.poll(mints).toBe(`idp_egress_leaf_mints_total ${names.length}`);
      const lines = await javaSync(w.run.address.port, w.gatewayCaPem, ['https://acme.okta.com/api/v1/users', 'https://beta.okta.com/api/v1/groups']);
      expect(lines).toEqual([
        `200 - https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`,
        '200 - https://acme.okta.com/api/v1/users',
        '200 - https://beta.okta.com/api/v1/groups',
      ]);
      const { socket } = await openConnect(w.run.address.port, 'beta.okta.com:443');
      const tls = await tlsOver(socket, 'beta.okta.com', w.gatewayCaPem);
      expect(tls.getPeerCertificate().subjectaltname).toBe('DNS:*.okta.com');
      tls.destroy();
      // No request waited for a mint: still only those from the start.
      expect(await mints()).toBe(`idp_egress_leaf_mints_total ${names.length}`);
    });
  }, 90_000);
});

describe('concurrency', () => {
  it('serves 100 concurrent keep-alive clients, several requests each', async () => {
    const before = h.provider.seen.length;
    const agents = Array.from({ length: 100 }, () => new ProxyAgent({ uri: h.proxyUrl, requestTls: { ca: h.gatewayCaPem }, connections: 1 }));
    try {
      const statuses = await Promise.all(
        agents.map(async (agent, i) => {
          const out: number[] = [];
          for (let n = 0; n < 3; n++) {
            const res = await request(`https://graph.microsoft.com/v1.0/users/user-${i}/memberOf?page=${n}`, { dispatcher: agent });
            await res.body.text();
            out.push(res.statusCode);
          }
          return out;
        }),
      );
      expect(statuses.flat()).toEqual(Array(300).fill(200));
      expect(h.provider.seen.length - before).toBe(300);
    } finally {
      await Promise.all(agents.map((a) => a.close()));
    }
  });
});
