// The generated Squid config, run by a real Squid on loopback in front of the fake provider:
// curl through it gets the same allow/deny answers as idp-egress explain, for a table of calls.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSiteConfig } from '../../../src/config/load.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import { loadPacks } from '../../../src/policy/pack.js';
import { rulesContext } from '../../../src/rules/context.js';
import { renderSquid } from '../../../src/rules/squid.js';
import { FakeProvider } from '../../support/fake-provider.js';
import { judge } from '../../support/policy.js';
import { testCa } from '../../support/pki.js';
import { needs } from '../../support/tools.js';

const run = promisify(execFile);
const TENANT = '11111111-2222-3333-4444-555555555555';
const SITE = `providers:\n  entra-id:\n    tenant: ${TENANT}\n  okta:\n    domain: acme.okta.com\n    tls: tunnel\n`;
const HOSTS = ['login.microsoftonline.com', 'graph.microsoft.com', 'acme.okta.com', 'evil.example.com'];

let dir: string;
let squid: ChildProcess;
let squidPort: number;
let provider: FakeProvider;
let bundle: string;
const TOOLS = needs(['squid', 'curl'], 'apt-get install squid-openssl curl', { root: true });
const policy = compilePolicy(loadPacks(), parseSiteConfig('site.yaml', SITE));

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1', () => (c.destroy(), resolve(true)));
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`squid did not listen on ${port}:\n${readFileSync(join(dir, 'cache.log'), 'utf8')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  if (TOOLS.skip) return;
  dir = mkdtempSync(join(tmpdir(), 'squid-e2e-'));
  const providerCa = await testCa('fake provider CA');
  const squidCa = await testCa('squid bump CA');
  provider = await FakeProvider.start(providerCa.ca, HOSTS, 443);
  writeFileSync(join(dir, 'squid-ca.pem'), squidCa.ca.certPem + readFileSync(join(squidCa.dir, 'ca-key.pem'), 'utf8'));
  writeFileSync(join(dir, 'provider-ca.pem'), providerCa.ca.certPem);
  bundle = join(dir, 'bundle.pem');
  writeFileSync(bundle, providerCa.ca.certPem + squidCa.ca.certPem);
  writeFileSync(join(dir, 'hosts'), HOSTS.map((h) => `127.0.0.1 ${h}`).join('\n') + '\n');
  squidPort = await freePort();
  const generated = renderSquid(rulesContext({ policy, config: { config: parseSiteConfig('site.yaml', SITE), file: 'site.yaml', baseDir: dir }, packs: loadPacks() }), {
    caFile: join(dir, 'squid-ca.pem'),
    listen: `127.0.0.1:${squidPort}`,
  });
  // Only what a test host needs on top: its own files, loopback names, trust in the fake provider.
  const config = `${generated.replace('-s /var/lib/squid/ssl_db', `-s ${join(dir, 'ssl_db')}`)}
hosts_file ${join(dir, 'hosts')}
tls_outgoing_options cafile=${join(dir, 'provider-ca.pem')}
pid_filename ${join(dir, 'squid.pid')}
access_log ${join(dir, 'access.log')}
cache_log ${join(dir, 'cache.log')}
coredump_dir ${dir}
cache deny all
`;
  writeFileSync(join(dir, 'squid.conf'), config);
  await run('/usr/lib/squid/security_file_certgen', ['-c', '-s', join(dir, 'ssl_db'), '-M', '4MB']);
  // Squid drops root for the proxy user; it must be able to write its files here.
  await run('chown', ['-R', 'proxy:proxy', dir]);
  chmodSync(dir, 0o755);
  squid = spawn('squid', ['-N', '-f', join(dir, 'squid.conf')], { stdio: 'ignore' });
  await waitForPort(squidPort, 15_000);
}, 60_000);

afterAll(async () => {
  squid?.kill('SIGKILL');
  await provider?.close();
});

const CALLS: readonly [method: string, url: string][] = [
  ['GET', 'https://graph.microsoft.com/v1.0/users?$top=999'],
  ['GET', 'https://graph.microsoft.com/beta/users/u1/manager'],
  ['GET', 'https://graph.microsoft.com/v1.0/groups/g1/transitiveMembers'],
  ['GET', 'https://graph.microsoft.com/v1.0/users/u1/drive'],
  ['GET', 'https://graph.microsoft.com/v2.0/users'],
  ['DELETE', 'https://graph.microsoft.com/v1.0/users/u1'],
  ['POST', `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`],
  ['POST', 'https://login.microsoftonline.com/common/oauth2/v2.0/token'],
  ['GET', 'https://acme.okta.com/api/v1/users'],
  ['GET', 'https://evil.example.com/'],
];

describe.skipIf(TOOLS.skip)(`the generated Squid config, run by Squid${TOOLS.why}`, () => {
  it.each(CALLS)('%s %s: same answer as explain', async (method, url) => {
    // --http1.1: through a splice curl meets the fake provider itself, which offers h2 in ALPN as
    // real providers do (fake-provider.ts) but serves HTTP/1.1 only.
    const { stdout } = await run('curl', ['--http1.1', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', '-x', `http://127.0.0.1:${squidPort}`, '--cacert', bundle, '-X', method, ...(method === 'POST' ? ['--data', 'grant_type=client_credentials'] : []), url]).catch(
      (e: { stdout: string }) => e,
    );
    const expected = judge(policy, method, url).action === 'allow' ? '200' : '403';
    expect(stdout).toBe(expected);
  });

  it('denies a source outside the config\'s clients, even for an allowed call', async () => {
    const call = (from: string) =>
      run('curl', ['--http1.1', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', '--interface', from, '-x', `http://127.0.0.1:${squidPort}`, '--cacert', bundle, CALLS[0]![1]]).catch((e: { stdout: string }) => e);
    expect((await call('127.0.0.1')).stdout).toBe('200');
    // curl reports the refused CONNECT as its status (403 from Squid).
    expect((await call('127.0.0.2')).stdout).toBe('403');
  });
});
