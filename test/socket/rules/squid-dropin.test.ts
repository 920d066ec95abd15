import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliIn } from '../../support/cli.js';
import { readUntil } from '../../support/raw.js';
import { needs } from '../../support/tools.js';

/**
 * The Squid drop-in as docs/rules.md tells users to install it: Debian's stock squid.conf,
 * unchanged but for where it looks (its include folder, a loopback port), with the generated
 * file in that conf.d. Real Squid runs it; CONNECTs come from a source in the config's clients
 * and from one outside it.
 */
const run = promisify(execFile);
const STOCK = '/etc/squid/squid.conf';
const tools = needs(['squid'], 'apt-get install squid-openssl', { root: true });
const SITE = 'providers:\n  entra-id: {}\n';
/** The fake provider listens on its own loopback address, so no other suite's port 443 is in the way. */
const PROVIDER_ADDRESS = '127.0.0.3';

let squid: ChildProcess | undefined;
let provider: Server | undefined;
let port = 0;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

describe.skipIf(tools.skip || !existsSync(STOCK))(`squid --squid-dropin in Debian's stock squid.conf${tools.why}`, () => {
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'squid-dropin-'));
    const confd = join(dir, 'conf.d');
    mkdirSync(confd);
    port = await freePort();
    // The stock file, unchanged but for its include folder and a loopback port for the test.
    const stock = readFileSync(STOCK, 'utf8');
    expect(stock).toMatch(/^include \/etc\/squid\/conf\.d\/\*\.conf$/m);
    expect(stock).toMatch(/^http_port 3128$/m);
    writeFileSync(join(dir, 'squid.conf'), stock.replace(/^include \/etc\/squid\/conf\.d\/\*\.conf$/m, `include ${confd}/*.conf`).replace(/^http_port 3128$/m, `http_port 127.0.0.1:${port}`));
    const generated = await cliIn(SITE, ['rules', '--format', 'squid', '--squid-dropin']);
    expect(generated.status, generated.err).toBe(0);
    expect(generated.out).not.toMatch(/^(http_port|https_port|sslcrtd_|ssl_bump)/m);
    writeFileSync(join(confd, '50-idp-egress.conf'), generated.out);
    // What only a test host needs: its own files, and the provider's name on loopback.
    writeFileSync(join(dir, 'hosts'), `${PROVIDER_ADDRESS} graph.microsoft.com login.microsoftonline.com\n`);
    writeFileSync(
      join(confd, '00-test-host.conf'),
      `hosts_file ${join(dir, 'hosts')}\npid_filename ${join(dir, 'squid.pid')}\naccess_log ${join(dir, 'access.log')}\ncache_log ${join(dir, 'cache.log')}\ncoredump_dir ${dir}\n`,
    );
    const parsed = await run('squid', ['-k', 'parse', '-f', join(dir, 'squid.conf')]).then(({ stdout, stderr }) => stdout + stderr, (e: { stdout: string; stderr: string }) => e.stdout + e.stderr);
    expect(parsed.split('\n').filter((l) => /ERROR|FATAL|Bungled/.test(l))).toEqual([]);
    provider = createServer((s) => s.on('error', () => undefined));
    await new Promise<void>((r) => provider!.listen(443, PROVIDER_ADDRESS, r));
    await run('chown', ['-R', 'proxy:proxy', dir]);
    chmodSync(dir, 0o755);
    squid = spawn('squid', ['-N', '-f', join(dir, 'squid.conf')], { stdio: 'ignore' });
    const deadline = Date.now() + 15_000;
    for (;;) {
      const up = await new Promise<boolean>((resolve) => netConnect(port, '127.0.0.1').once('connect', function (this: { destroy(): void }) { this.destroy(); resolve(true); }).once('error', () => resolve(false)));
      if (up) break;
      if (Date.now() > deadline) throw new Error(`squid did not listen:\n${existsSync(join(dir, 'cache.log')) ? readFileSync(join(dir, 'cache.log'), 'utf8') : ''}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 60_000);

  afterAll(async () => {
    squid?.kill('SIGKILL');
    await new Promise((r) => provider?.close(r) ?? r(undefined));
  });

  async function connectVia(from: string, authority: string): Promise<string> {
    const s = netConnect({ port, host: '127.0.0.1', localAddress: from });
    s.on('error', () => undefined);
    s.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
    const head = await readUntil(s, (t) => t.includes('\r\n\r\n'), 10_000);
    s.destroy();
    return head.split('\r\n')[0] ?? '';
  }

  it('lets a client reach an allowlisted host, and nothing else', async () => {
    expect(await connectVia('127.0.0.1', 'graph.microsoft.com:443')).toMatch(/^HTTP\/1\.1 200 /);
    expect(await connectVia('127.0.0.1', 'login.microsoftonline.com:443')).toMatch(/^HTTP\/1\.1 200 /);
    // 127.0.0.1 is also the stock "localhost", which the stock file allows everything: the
    // drop-in's final deny is what keeps it to the allowlist.
    expect(await connectVia('127.0.0.1', 'evil.example.com:443')).toMatch(/^HTTP\/1\.1 403 /);
  });

  it('denies a source outside the config\'s clients, even for an allowlisted host', async () => {
    expect(await connectVia('127.0.0.2', 'graph.microsoft.com:443')).toMatch(/^HTTP\/1\.1 403 /);
  });
});
