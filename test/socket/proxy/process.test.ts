// The built binary as operators run it: streaming without buffering, SIGHUP reload, SIGTERM drain.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProxyAgent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, Child } from '../../support/child.js';
import { FakeProvider, pumpBytes } from '../../support/fake-provider.js';
import { harnessConfig, PROVIDER_HOSTS } from '../../support/gateway.js';
import { testCa } from '../../support/pki.js';
import { until } from '../../support/wait.js';

const MB = 1024 * 1024;

interface Running {
  child: Child;
  provider: FakeProvider;
  agent: ProxyAgent;
  configFile: string;
  dir: string;
  providerPort: number;
  providerCaFile: string;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function startChild(extra = '', log?: string): Promise<Running> {
  const providerCa = await testCa();
  const provider = await FakeProvider.start(providerCa.ca, PROVIDER_HOSTS);
  const dir = mkdtempSync(join(tmpdir(), 'idp-egress-proc-'));
  const configFile = join(dir, 'idp-egress.yaml');
  writeFileSync(configFile, harnessConfig(provider.port, providerCa.certFile, { extra, ...(log ? { log } : {}) }));
  const { child, port } = await Child.serve(configFile, dir);
  const agent = new ProxyAgent({ uri: `http://127.0.0.1:${port}`, requestTls: { ca: readFileSync(join(dir, 'certs/ca.pem'), 'utf8') } });
  const running = { child, provider, agent, configFile, dir, providerPort: provider.port, providerCaFile: providerCa.certFile };
  cleanups.push(async () => {
    if (child.proc.exitCode === null) child.kill('SIGKILL');
    await agent.close().catch(() => undefined);
    await provider.close();
  });
  return running;
}

describe('idp-egress serve (the built binary)', () => {
  it('creates its CA on first start and says how to trust it', async () => {
    const r = await startChild();
    expect(r.child.stderr).toMatch(/idp-egress: created the interception CA: .*certs\/ca\.pem \(key .*certs\/ca-key\.pem, mode 0600\)/);
    expect(r.child.stderr).toContain('run `idp-egress jvm`');
    // Started as `node main.js serve`, without the options the shipped starts pass: it says so,
    // after the listening line (Child.serve returns on that one, so wait for the note itself).
    await r.child.waitFor(/idp-egress: note: node was started without/);
    expect(r.child.stderr).toContain(`idp-egress: note: node was started without --max-semi-space-size=32 --min-semi-space-size=32 --initial-old-space-size=64, which npm start, the Dockerfile and the systemd unit pass: garbage collection costs more CPU and pauses longer under load; give them to node before the script, as in node --max-semi-space-size=32 --min-semi-space-size=32 --initial-old-space-size=64 ${BIN} serve (docs/gateway.md, Lifecycle)`);
  });

  it("the note's own command starts node with every option, so the note is not said again", async () => {
    const r = await startChild();
    const said = await r.child.waitFor(/as in (node .+ serve) \(docs/);
    // The script it names is the one this process was started from.
    expect(said[1]).toBe(`node --max-semi-space-size=32 --min-semi-space-size=32 --initial-old-space-size=64 ${BIN} serve`);
    r.child.kill('SIGTERM');
    await r.child.exited;
    // As an operator would paste it into a shell, with their own arguments after it.
    const shell = spawn('/bin/sh', ['-c', `exec ${said[1]} --config "$CONFIG"`], {
      cwd: r.dir,
      env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, CONFIG: r.configFile },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    shell.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const closed = new Promise((resolve) => shell.once('close', resolve));
    cleanups.push(async () => {
      if (shell.exitCode === null) shell.kill('SIGKILL');
    });
    await until(() => stderr.includes('listening on') || shell.exitCode !== null, 10_000, 'the gateway listened');
    shell.kill('SIGTERM');
    expect(await closed).toBe(0);
    expect(stderr).toContain('listening on');
    expect(stderr).not.toContain('note:');
  });

  it('streams a 20 MB response without buffering it: a reader that stops holds the provider back', async () => {
    const r = await startChild();
    let sent = 0;
    r.provider.on('GET /v1.0/users/big/photo/$value', (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(20 * MB) });
      pumpBytes(res, 20 * MB, (bytes) => (sent = bytes));
    });
    const res = await request('https://graph.microsoft.com/v1.0/users/big/photo/$value', { dispatcher: r.agent, highWaterMark: 64 * 1024 });
    // The client reads nothing for a while. A gateway that buffered would let the provider send
    // all 20 MB; one that honours backpressure stops it once the socket buffers on the path fill
    // (about 8 MB measured here: three loopback sockets plus TLS records). Peak RSS is no measure
    // of this: V8 frees the chunks' off-heap memory lazily, so it rises with garbage, not buffering.
    await sleep(1500);
    const sentWhilePaused = sent;
    let received = 0;
    for await (const part of res.body) received += (part as Buffer).length;
    expect(res.statusCode).toBe(200);
    expect(received).toBe(20 * MB);
    expect(sentWhilePaused).toBeLessThan(14 * MB);
  });

  it('keeps serving on SIGHUP with a broken config, and applies a good one', async () => {
    const r = await startChild();
    const get = async (url: string) => (await request(url, { dispatcher: r.agent })).statusCode;
    expect(await get('https://acme.okta.com/api/v1/users')).toBe(200);

    writeFileSync(r.configFile, 'providers:\n  okta:\n    domian: acme.okta.com\n');
    r.child.kill('SIGHUP');
    await r.child.waitFor(/SIGHUP: the new configuration is invalid, the previous policy stays in force:\n.*providers\.okta\.domian: unknown key "domian"/);
    expect(await get('https://acme.okta.com/api/v1/users')).toBe(200);

    writeFileSync(r.configFile, harnessConfig(r.providerPort, r.providerCaFile, { site: 'providers:\n  entra-id: {}\n' }));
    r.child.kill('SIGHUP');
    await r.child.waitFor(/SIGHUP: reloaded the policy/);
    const res = await request('https://acme.okta.com/api/v1/users', { dispatcher: r.agent }).catch((e: Error) => e);
    // Okta is no longer listed: the CONNECT itself is refused now.
    expect(String(res instanceof Error ? res.message : res.statusCode)).toMatch(/403/);
    expect(await get('https://graph.microsoft.com/v1.0/users')).toBe(200);
  });

  it('flushes the audit log on SIGTERM in the middle of a load: every completed request is in the file', async () => {
    const r = await startChild('', 'log:\n  stdout: false\n  file: logs/audit.jsonl');
    r.provider.on('GET /v1.0/users?$top=', (_req, res) => {
      setTimeout(() => res.end('{"value":[]}'), 30);
    });
    const completed: number[] = [];
    let n = 0;
    let stopped = false;
    const worker = async () => {
      while (!stopped) {
        const i = n++;
        try {
          const res = await request(`https://graph.microsoft.com/v1.0/users?$top=${i}`, { dispatcher: r.agent });
          await res.body.text();
          if (res.statusCode === 200) completed.push(i);
        } catch {
          return; // the listener is closed: the load is over
        }
      }
    };
    const load = Promise.all(Array.from({ length: 20 }, worker));
    await until(() => completed.length > 50, 15_000, 'more than 50 requests completed under load');
    r.child.kill('SIGTERM');
    expect(await r.child.exited).toBe(0);
    stopped = true;
    await load;
    const logged = new Set(
      readFileSync(join(r.dir, 'logs/audit.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => /[?&]\$top=(\d+)/.exec((JSON.parse(l) as { url?: string }).url ?? '')?.[1])
        .filter((x): x is string => x !== undefined)
        .map(Number),
    );
    expect(completed.length).toBeGreaterThan(50);
    expect(completed.filter((i) => !logged.has(i))).toEqual([]);
  });

  it('lets an in-flight request finish on SIGTERM, then exits 0', async () => {
    const r = await startChild();
    r.provider.on('GET /v1.0/groups/slow', (_req, res) => {
      setTimeout(() => res.end('{"value":[]}'), 700);
    });
    const pending = request('https://graph.microsoft.com/v1.0/groups/slow/members', { dispatcher: r.agent });
    await until(() => r.provider.seen.some((s) => s.url.startsWith('/v1.0/groups/slow')), 3_000, 'the slow request reached the provider');
    r.child.kill('SIGTERM');
    const res = await pending;
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('{"value":[]}');
    expect(await r.child.exited).toBe(0);
    expect(r.child.stderr).toContain('SIGTERM: draining in-flight requests, then exiting');
  });
});
