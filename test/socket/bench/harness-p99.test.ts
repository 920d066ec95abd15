import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../../src/core/package-root.js';
import { Child } from '../../support/child.js';
import { FakeProvider } from '../../support/fake-provider.js';
import { serverCert, testCa } from '../../support/pki.js';

// bench/harness-p99.ts reads a kept-running anchors harness's proxies.tsv; here that table names
// one intercept floor (bench/floor-proxy.ts) twice, in front of a fake Graph, so the bench runs
// its rounds through a real proxy without the harness.
const HOST = 'graph.microsoft.com';
const run = promisify(execFile);
const BENCH = join(PACKAGE_ROOT, 'dist/bench/harness-p99.js');
let provider: FakeProvider;
let floor: Child;
let runDir: string;
// In front of the floor as `floor-counted`: counts the client connections, one per client a fresh round makes.
let relay: Server;
let relayed = 0;
const relaySockets = new Set<Socket>();

beforeAll(async () => {
  const providerCa = await testCa();
  provider = await FakeProvider.start(providerCa.ca, [HOST]);
  provider.on('GET /v1.0/users/u1/manager', (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"m1"}'));
  provider.on('GET /v1.0/nothing-here', (_req, res) => res.writeHead(404).end());
  const leafCa = await testCa('floor leaf CA');
  const leaf = serverCert(leafCa.ca, [HOST]);
  writeFileSync(join(leafCa.dir, 'key.pem'), leaf.key);
  writeFileSync(join(leafCa.dir, 'cert.pem'), leaf.cert);
  const args = [join(leafCa.dir, 'key.pem'), join(leafCa.dir, 'cert.pem'), providerCa.certFile, String(provider.port), '127.0.0.1'];
  const started = await Child.listening(join(PACKAGE_ROOT, 'dist/bench/floor-proxy.js'), args);
  floor = started.child;
  runDir = mkdtempSync(join(tmpdir(), 'idp-egress-harness-run-'));
  relay = createServer((client) => {
    relayed++;
    const upstream = connect(started.port, '127.0.0.1');
    for (const socket of [client, upstream]) {
      relaySockets.add(socket);
      socket.on('close', () => relaySockets.delete(socket));
      socket.on('error', () => [client, upstream].forEach((s) => s.destroy()));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const row = (name: string, port = started.port) => [name, 'bump', String(port), leafCa.certFile, String(floor.proc.pid)].join('\t');
  const rows = [['direct', 'direct', '-', leafCa.certFile, '-'].join('\t'), row('floor-a'), row('floor-b'), row('floor-counted', (relay.address() as AddressInfo).port)];
  writeFileSync(join(runDir, 'proxies.tsv'), [...rows, ['gone', 'bump', '1', leafCa.certFile, '999999999'].join('\t')].join('\n') + '\n');
});
afterAll(async () => {
  for (const socket of relaySockets) socket.destroy();
  relay?.close();
  floor?.kill('SIGTERM');
  await provider?.close();
});

describe('bench/harness-p99 (the p99 at concurrency 1 beside a kept-running harness)', () => {
  it('runs its rounds through each named proxy in turn and compares each round with the first proxy', async () => {
    const before = provider.seen.length;
    const { stdout } = await run(process.execPath, [BENCH, '--run', runDir, '--rounds', '3', '--duration', '0.3', 'floor-a', 'floor-b']);
    const rounds = stdout.split('\n').filter((l) => l.startsWith('round '));
    // Alternating: a, b; then b, a; then a, b.
    expect(rounds.map((l) => l.split(/\s+/).slice(0, 3).join(' '))).toEqual(['round 1 floor-a', 'round 1 floor-b', 'round 2 floor-b', 'round 2 floor-a', 'round 3 floor-a', 'round 3 floor-b']);
    for (const l of rounds) expect(l).toMatch(/ p50 \d+\.\d\d ms {2}p99 \d+\.\d\d ms {2}\([1-9]\d* requests\)$/);
    expect(stdout).toMatch(/^floor-a +p99 \d+\.\d\d {2}pooled p50 \d+\.\d\d {2}p90 \d+\.\d\d {2}p99 \d+\.\d\d {2}p99\.9 \d+\.\d\d$/m);
    expect(stdout).toMatch(/^floor-b +p99 \d+\.\d\d {2}pooled .* {2}p99 below floor-a's in [0-3] of 3 rounds$/m);
    // Every request reached the provider through the floor.
    const counted = rounds.reduce((n, l) => n + Number(/\((\d+) requests\)/.exec(l)![1]), 0);
    expect(provider.seen.length - before).toBeGreaterThanOrEqual(counted);
  });

  it('with --fresh-client runs each round in a new client process, and reports each round\'s first seconds apart', async () => {
    // What one client costs in connections to the proxy (undici's ProxyAgent opens more than its tunnel), from a warm run.
    const beforeWarm = relayed;
    await run(process.execPath, [BENCH, '--run', runDir, '--rounds', '2', '--duration', '0.2', 'floor-counted']);
    const perClient = relayed - beforeWarm;
    expect(perClient).toBeGreaterThan(0);
    const before = provider.seen.length;
    const connectionsBefore = relayed;
    const { stdout } = await run(process.execPath, [BENCH, '--run', runDir, '--rounds', '3', '--duration', '0.6', '--fresh-client', '--warmup', '0.2', '--early', '0.2', 'floor-a', 'floor-counted']);
    const rounds = stdout.split('\n').filter((l) => l.startsWith('round '));
    expect(rounds.map((l) => l.split(/\s+/).slice(0, 3).join(' '))).toEqual(['round 1 floor-a', 'round 1 floor-counted', 'round 2 floor-counted', 'round 2 floor-a', 'round 3 floor-a', 'round 3 floor-counted']);
    // A client of its own each round: three clients' connections, where one warm client kept its own for both rounds.
    expect(relayed - connectionsBefore).toBe(3 * perClient);
    expect(stdout).toContain('3 rounds of 0.6 s, a fresh client process a round (0.2 s of warm-up)');
    expect(stdout).toMatch(/^floor-a +first 0\.2 s p99 \d+\.\d\d {2}after \d+\.\d\d$/m);
    expect(stdout).toMatch(/^floor-counted +first 0\.2 s p99 \d+\.\d\d \(below floor-a's in [0-3] of 3 rounds\) {2}after \d+\.\d\d \(below floor-a's in [0-3] of 3 rounds\)$/m);
    // Each round's client warmed up before it timed anything: the provider saw more than was timed.
    const counted = rounds.reduce((n, l) => n + Number(/\((\d+) requests\)/.exec(l)![1]), 0);
    expect(provider.seen.length - before).toBeGreaterThan(counted);
  });

  it('names what it cannot measure: a proxy the run does not have, one whose process is gone, a URL the proxy does not serve', async () => {
    const fail = (args: string[]) => run(process.execPath, [BENCH, '--run', runDir, '--rounds', '1', '--duration', '0.2', ...args]).then(
      () => expect.unreachable('the bench should have failed'),
      (err: { code: number; stderr: string }) => err,
    );
    const unknown = await fail(['floor-a', 'squid']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`no proxy "squid" in ${join(runDir, 'proxies.tsv')} (it has: floor-a, floor-b, floor-counted, gone)`);
    const gone = await fail(['gone']);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain("gone's process 999999999 is gone: is the harness still running?");
    const noTable = await run(process.execPath, [BENCH, '--run', tmpdir(), 'floor-a']).catch((err: { code: number; stderr: string }) => err);
    expect(noTable).toMatchObject({ code: 2 });
    expect((noTable as { stderr: string }).stderr).toContain('--run is the run folder a --keep-running harness printed');
    const notServed = await fail(['--url', `https://${HOST}/v1.0/nothing-here`, 'floor-a']);
    expect(notServed.code).toBe(1);
    expect(notServed.stderr).toMatch(/https:\/\/graph\.microsoft\.com\/v1\.0\/nothing-here answered 404 through the proxy: is it a URL the harness serves\?/);
    const notServedFresh = await fail(['--fresh-client', '--warmup', '0', '--url', `https://${HOST}/v1.0/nothing-here`, 'floor-a']);
    expect(notServedFresh.code).toBe(1);
    expect(notServedFresh.stderr).toMatch(/nothing-here answered 404 through the proxy: is it a URL the harness serves\?/);
    const badWarmup = await fail(['--fresh-client', '--warmup=-1', 'floor-a']);
    expect(badWarmup.code).toBe(2);
    expect(badWarmup.stderr).toContain('--warmup "-1" is not a number of at least 0');
  });
});
