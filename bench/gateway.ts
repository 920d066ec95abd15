/**
 * npm run bench: throughput and latency through the gateway, as ratios to direct, in one run.
 * The upstream (a local HTTPS server) and the gateway (the built binary, one process for each of
 * the intercept, tunnel and +syslog paths) each run in their own process; this process is only
 * the client. Two more paths, the floors, are built from the same parts with none of the
 * gateway's work and measured alongside: an interceptor (floor-proxy.ts) and a tunnel
 * (tunnel-floor.ts), what this machine allows any Node proxy of each kind, and how much of it
 * the gateway keeps.
 * Targets (issue 3): intercept >= 0.5 of direct at concurrency 16 with keep-alive; added p50
 * < 0.5 ms at concurrency 1; a first CONNECT to a new host (leaf mint included) < 10 ms p50;
 * tunnel >= 0.8 of direct.
 */
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { connect as tlsConnect, createSecureContext, type SecureContext } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { startChild, startFloor, startGateway, startTunnelFloor, startUpstream, writeGatewayConfig } from './child.js';
import { GcPauses, type GcWindow } from './gc-pauses.js';
import { median } from './median.js';
import { runFolder } from './run-folder.js';
import { Agent, ProxyAgent, request, type Dispatcher } from 'undici';
import { LeafMinter } from '../src/tls/leaf-minter.js';
import { serverCert, testCa } from '../test/support/pki.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** Each concurrency: a warm-up per path, then ROUNDS rounds that run every path for ROUND_MS. */
const ROUNDS = 4;
const ROUND_MS = 1_000;
const NEW_HOSTS = 50;

/** IDP_EGRESS_BENCH_PROFILE=DIR writes a CPU profile of the gateway there (--cpu-prof). */
const PROFILE_DIR = process.env['IDP_EGRESS_BENCH_PROFILE'];


interface Load {
  readonly rps: number;
  readonly latencies: readonly number[];
}

async function load(dispatcher: Dispatcher, url: string, concurrency: number, durationMs = ROUND_MS): Promise<Load> {
  const latencies: number[] = [];
  const end = performance.now() + durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      const res = await request(url, { dispatcher });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode}`);
      latencies.push(performance.now() - t);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = performance.now() - started;
  return { rps: (latencies.length / elapsed) * 1000, latencies };
}

interface FirstConnection {
  /** From the TCP connect to the client's TLS handshake done: when it may send a request. */
  readonly connected: number;
  /** To the end of the first response on that connection. */
  readonly answered: number;
}

/**
 * One new client connection to `host` and one request on it: through a proxy (CONNECT, then TLS
 * inside the tunnel) when proxyPort is given, else straight to the upstream.
 */
async function firstConnection(host: string, via: { proxyPort?: number; upstreamPort?: number; trust: SecureContext }): Promise<FirstConnection> {
  const started = performance.now();
  const tcp = netConnect(via.proxyPort ?? via.upstreamPort!, '127.0.0.1');
  await once(tcp, 'connect');
  if (via.proxyPort !== undefined) {
    tcp.write(`CONNECT ${host}:443 HTTP/1.1\r\nHost: ${host}:443\r\n\r\n`);
    const [answer] = (await once(tcp, 'data')) as [Buffer];
    if (!answer.toString('latin1').startsWith('HTTP/1.1 200')) throw new Error(`CONNECT ${host}: ${answer.toString('latin1')}`);
  }
  const tls = tlsConnect({ socket: tcp, servername: host, secureContext: via.trust, ALPNProtocols: ['http/1.1'] });
  await once(tls, 'secureConnect');
  const connected = performance.now() - started;
  tls.write(`GET /api/v1/users HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  const response = await oneResponse(tls);
  if (!response.startsWith('HTTP/1.1 200')) throw new Error(`GET https://${host}/api/v1/users: ${response.slice(0, 200)}`);
  const answered = performance.now() - started;
  tls.destroy();
  return { connected, answered };
}

/** The first response on a stream, whole: its head and a Content-Length body (the upstream always sends one). */
function oneResponse(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, headEnd));
      if (headEnd >= 0 && (!length || text.length - headEnd - 4 >= Number(length[1]))) resolve(text);
    });
    stream.once('error', reject);
    stream.once('end', () => reject(new Error(`the connection ended before a whole response: ${text.slice(0, 200)}`)));
  });
}

interface Cell {
  readonly rps: number;
  /** Median over the rounds of this path's rate over direct's in the same round. */
  readonly ratio: number;
  readonly p50: number;
  readonly p99: number;
  /** Requests this path served, its warm-up included. */
  readonly requests: number;
}

/**
 * The paths take turns, round after round, and each ratio is taken within a round: this shared
 * machine's speed drifts by up to 2x over tens of seconds, which a direct cell measured a minute
 * before an intercept cell would turn into a ratio.
 */
async function measure(paths: Readonly<Record<string, readonly [Dispatcher, string]>>, concurrency: number): Promise<Record<string, Cell>> {
  // A failed request ends the run, saying on which path (a run died on a bare ECONNRESET that named none).
  const onPath = (name: string, dispatcher: Dispatcher, url: string) =>
    load(dispatcher, url, concurrency).catch((err: Error) => {
      throw new Error(`path ${name} at concurrency ${concurrency}: ${err.message}`, { cause: err });
    });
  const warmUp: Record<string, Load> = {};
  for (const [name, [dispatcher, url]] of Object.entries(paths)) warmUp[name] = await onPath(name, dispatcher, url); // connections, leaves, pools
  const rounds: Record<string, Load>[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const round: Record<string, Load> = {};
    for (const [name, [dispatcher, url]] of Object.entries(paths)) round[name] = await onPath(name, dispatcher, url);
    rounds.push(round);
  }
  const cells: Record<string, Cell> = {};
  for (const name of Object.keys(paths)) {
    const all = rounds.flatMap((r) => r[name]!.latencies).sort((a, b) => a - b);
    const q = (p: number) => all[Math.min(all.length - 1, Math.floor(p * all.length))]!;
    cells[name] = {
      rps: median(rounds.map((r) => r[name]!.rps)),
      ratio: median(rounds.map((r) => r[name]!.rps / r['direct']!.rps)),
      p50: q(0.5),
      p99: q(0.99),
      requests: warmUp[name]!.latencies.length + all.length,
    };
  }
  return cells;
}

async function main(): Promise<void> {
  const { dir, remove } = runFolder('idp-egress-bench-');
  const newHosts = Array.from({ length: NEW_HOSTS }, (_, i) => `bench${i}.okta.com`);
  // Hosts no provider names, let through by the global observe mode: the gateway cannot know
  // them before their CONNECT, so each one's leaf is minted on the path.
  const unlistedHosts = Array.from({ length: NEW_HOSTS }, (_, i) => `unlisted${i}.example.net`);
  const hosts = ['acme.okta.com', 'acme.onelogin.com', ...newHosts, ...unlistedHosts];
  const { ca, certFile, upstream, port: upstreamPort } = await startUpstream(dir, hosts);
  const config = writeGatewayConfig(
    dir,
    `mode: observe
providers:
  okta:
    mode: enforce
  onelogin:
    host: acme.onelogin.com
    tls: tunnel
    mode: enforce
upstream:
  ca: ${certFile}
  resolve:
${hosts.map((h) => `    ${h}: 127.0.0.1:${upstreamPort}`).join('\n')}
  allowPrivate: [${hosts.join(', ')}]
# One load client stands for many servers here: the per-client cap (a fairness limit, measured by
# test/socket/adversarial/lockout.test.ts) would stop it before the proxy is measured.
limits:
  maxConnectionsPerClient: 1024
`,
  );
  const gateway = await startGateway(config, ['--trace-gc', ...(PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [])]);
  const gatewayGc = new GcPauses(gateway.proc.stdout!);
  const proxy = `http://127.0.0.1:${gateway.port}`;
  // The same gateway delivering its audit to a syslog collector over TLS as well (log.syslog):
  // what SIEM delivery costs, measured beside the gateway without it. Same folder, so same CA.
  const sinkTls = serverCert(ca, ['syslog.bench.test']);
  writeFileSync(join(dir, 'sink-key.pem'), sinkTls.key);
  writeFileSync(join(dir, 'sink-cert.pem'), sinkTls.cert);
  const sink = await startChild([join(HERE, 'syslog-sink.js'), join(dir, 'sink-key.pem'), join(dir, 'sink-cert.pem')], /^(\d+)\n/, 'stdout');
  writeFileSync(
    join(dir, 'idp-egress-syslog.yaml'),
    readFileSync(config, 'utf8').replace(
      `  file: ${join(dir, 'audit.jsonl')}\n`,
      `  file: ${join(dir, 'audit-syslog.jsonl')}\n  syslog:\n    target: 127.0.0.1:${sink.match[1]}\n    tls:\n      ca: ${certFile}\n      serverName: syslog.bench.test\n    queue:\n      directory: ${join(dir, 'spool')}\n`,
    ),
  );
  const withSyslog = await startGateway(join(dir, 'idp-egress-syslog.yaml'));
  // Tunnel mode through a gateway process of its own (same config), so the first one serves only
  // intercepted requests and its collections below are theirs alone.
  writeFileSync(join(dir, 'idp-egress-tunnel.yaml'), readFileSync(config, 'utf8').replace(`  file: ${join(dir, 'audit.jsonl')}\n`, `  file: ${join(dir, 'audit-tunnel.jsonl')}\n`));
  const tunnelGateway = await startGateway(join(dir, 'idp-egress-tunnel.yaml'));
  const gatewayCa = readFileSync(join(dir, 'certs/ca.pem'), 'utf8');
  const floorProxy = await startFloor(dir, certFile, upstreamPort, [], ['--trace-gc']);
  const floorGc = new GcPauses(floorProxy.proc.stdout!);
  const tunnelFloorProxy = await startTunnelFloor(upstreamPort);

  const toLoopback = (_h: string, _o: unknown, cb: (e: null, a: { address: string; family: number }[]) => void) => cb(null, [{ address: '127.0.0.1', family: 4 }]);
  const direct = new Agent({ connect: { ca: ca.certPem, lookup: toLoopback as never } });
  const intercept = new ProxyAgent({ uri: proxy, requestTls: { ca: gatewayCa } });
  const tunnel = new ProxyAgent({ uri: `http://127.0.0.1:${tunnelGateway.port}`, requestTls: { ca: ca.certPem } });
  const floor = new ProxyAgent({ uri: `http://127.0.0.1:${floorProxy.port}`, requestTls: { ca: ca.certPem } });
  const tunnelFloor = new ProxyAgent({ uri: `http://127.0.0.1:${tunnelFloorProxy.port}`, requestTls: { ca: ca.certPem } });
  const interceptSyslog = new ProxyAgent({ uri: `http://127.0.0.1:${withSyslog.port}`, requestTls: { ca: gatewayCa } });
  const paths = {
    direct: [direct, `https://acme.okta.com:${upstreamPort}/api/v1/users`],
    intercept: [intercept, 'https://acme.okta.com/api/v1/users'],
    '+syslog': [interceptSyslog, 'https://acme.okta.com/api/v1/users'],
    tunnel: [tunnel, `https://acme.onelogin.com/api/2/users`],
    floor: [floor, 'https://acme.okta.com/api/v1/users'],
    'tun-floor': [tunnelFloor, `https://acme.onelogin.com/api/2/users`],
  } as const;
  // The tunnel-mode origin is acme.onelogin.com:443 as the client sees it; the gateway's
  // resolve override sends it to the upstream's port.

  const results: Record<number, Record<string, Cell>> = {};
  let gcAtOne: Record<'intercept' | 'floor', GcWindow> | undefined;
  for (const c of [1, 16, 64]) {
    const marks = [gatewayGc.mark(), floorGc.mark()] as const;
    results[c] = await measure(paths, c);
    if (c === 1) gcAtOne = { intercept: gatewayGc.since(marks[0]), floor: floorGc.since(marks[1]) };
  }

  // First connection to a host never served before (issue 3: "first-connection latency to 50 new
  // host names"): CONNECT, the 200, and the client's TLS handshake with the leaf minted at start
  // for the host's pattern (*.okta.com), until the client may send its request. Then that first
  // request, which also waits for the gateway's new connection to the provider (dialled at
  // CONNECT). A raw client (net + tls), so the timings hold no client library's setup.
  const gatewayPort = gateway.port;
  const floorPort = floorProxy.port;
  const gatewayTrust = createSecureContext({ ca: gatewayCa });
  const upstreamTrust = createSecureContext({ ca: ca.certPem });
  const viaGateway = (host: string) => firstConnection(host, { proxyPort: gatewayPort, trust: gatewayTrust });
  const firstNew: FirstConnection[] = [];
  for (const h of newHosts) firstNew.push(await viaGateway(h));
  const firstMinted: FirstConnection[] = [];
  for (const h of unlistedHosts) firstMinted.push(await viaGateway(h));
  const firstServed: FirstConnection[] = [];
  for (let i = 0; i < 20; i++) firstServed.push(await viaGateway('acme.okta.com'));
  // The floor's: the same two handshakes (client and provider, RSA-2048 both), with the provider
  // dialled only when the request arrives.
  const floorFirst: FirstConnection[] = [];
  for (const h of newHosts) floorFirst.push(await firstConnection(h, { proxyPort: floorPort, trust: upstreamTrust }));
  // Without a proxy: a new TCP and TLS connection to the upstream, then the request.
  const directFirst: FirstConnection[] = [];
  for (const h of newHosts) directFirst.push(await firstConnection(h, { upstreamPort, trust: upstreamTrust }));

  // The mint itself, timed alone.
  const minter = await LeafMinter.create((await testCa('idp-egress bench mint CA', dir)).ca);
  const mints: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    await minter.contextFor(`mint${i}.example.org`);
    mints.push(performance.now() - t);
  }

  await Promise.all([direct.close(), intercept.close(), tunnel.close(), floor.close(), tunnelFloor.close(), interceptSyslog.close()]);
  withSyslog.proc.kill('SIGTERM');
  tunnelGateway.proc.kill('SIGTERM');
  sink.proc.kill('SIGTERM');
  floorProxy.proc.kill('SIGTERM');
  tunnelFloorProxy.proc.kill('SIGTERM');
  gateway.proc.kill('SIGTERM');
  upstream.proc.kill('SIGTERM');
  // The run's CA key, certificates and audit files: gone once the processes that hold them are.
  await Promise.all([withSyslog, tunnelGateway, sink, floorProxy, tunnelFloorProxy, gateway, upstream].map(({ proc }) => (proc.exitCode !== null || proc.signalCode !== null ? undefined : once(proc, 'exit'))));
  remove();

  const row = (name: string, c: number) => {
    const r = results[c]![name]!;
    return `| ${name.padEnd(9)} | ${String(c).padStart(2)} | ${Math.round(r.rps).toString().padStart(6)} | ${r.ratio.toFixed(2)} | ${r.p50.toFixed(2).padStart(6)} | ${r.p99.toFixed(2).padStart(6)} |`;
  };
  console.log(
    `idp-egress gateway benchmark (node ${process.version}; client, gateway and upstream in separate processes; ${ROUNDS} rounds of ${ROUND_MS} ms per path, taking turns; medians)\n`,
  );
  console.log('| path      |  c |  req/s | ratio to direct | p50 ms | p99 ms |');
  console.log('|---|---|---|---|---|---|');
  for (const c of [1, 16, 64]) for (const name of ['direct', 'intercept', '+syslog', 'tunnel', 'floor', 'tun-floor']) console.log(row(name, c));
  const added = results[1]!['intercept']!.p50 - results[1]!['direct']!.p50;
  const i16 = results[16]!['intercept']!.ratio;
  const t16 = results[16]!['tunnel']!.ratio;
  const f16 = results[16]!['floor']!.ratio;
  const tf16 = results[16]!['tun-floor']!.ratio;
  const p50 = (xs: readonly FirstConnection[], k: keyof FirstConnection) => median(xs.map((x) => x[k]));
  const connected = p50(firstNew, 'connected');
  console.log(`\nfirst connection to a new host (${NEW_HOSTS} hosts under *.okta.com, the leaf minted at start), p50 ms:`);
  console.log('| path | connected (CONNECT + TLS) | first response |');
  console.log('|---|---|---|');
  for (const [name, xs] of [['intercept, new host', firstNew], ['intercept, new host, its leaf minted on the path', firstMinted], ['intercept, host already served', firstServed], ['floor, new host', floorFirst], ['direct, new host', directFirst]] as const) {
    console.log(`| ${name} | ${p50(xs, 'connected').toFixed(1)} | ${p50(xs, 'answered').toFixed(1)} |`);
  }
  console.log(`a leaf mint (every policy host's leaf is minted at start and on reload; only hosts no policy names wait for one): p50 ${median(mints).toFixed(1)} ms`);
  console.log('\ngarbage collection at c=1 (V8 --trace-gc, main-thread pauses of the process serving each path):');
  console.log('| proxy | requests | scavenges | pause ms per 1,000 requests | longest pause ms | mark-compacts |');
  console.log('|---|---|---|---|---|---|');
  for (const name of ['intercept', 'floor'] as const) {
    const gc = gcAtOne![name];
    const requests = results[1]![name]!.requests;
    console.log(`| ${name} | ${requests} | ${gc.scavenges} | ${(((gc.scavengeMs + gc.markCompactMs) * 1000) / requests).toFixed(2)} | ${gc.longestMs.toFixed(2)} | ${gc.markCompacts} |`);
  }
  console.log('\ntargets:');
  console.log(`  intercept / direct at c=16 >= 0.50:   ${i16.toFixed(3)}  ${i16 >= 0.5 ? 'met' : 'MISSED'}  (floor: ${f16.toFixed(2)}; intercept reaches ${(i16 / f16).toFixed(2)} of the floor)`);
  console.log(`  added p50 at c=1 < 0.5 ms:            ${added.toFixed(3)} ms  ${added < 0.5 ? 'met' : 'MISSED'}`);
  console.log(`  first CONNECT to a new host < 10 ms:  ${connected.toFixed(1)} ms  ${connected < 10 ? 'met' : 'MISSED'}  (floor: ${p50(floorFirst, 'connected').toFixed(1)} ms; with its first response: ${p50(firstNew, 'answered').toFixed(1)} ms; with its leaf minted on the path: ${p50(firstMinted, 'connected').toFixed(1)} ms)`);
  console.log(`  tunnel / direct at c=16 >= 0.80:      ${t16.toFixed(3)}  ${t16 >= 0.8 ? 'met' : 'MISSED'}  (tunnel floor: ${tf16.toFixed(2)}; tunnel reaches ${(t16 / tf16).toFixed(2)} of the floor)`);
  // '+syslog' is the intercept path with log.syslog (TLS, RFC 5424) on: its throughput beside the same gateway without.
  const syslogShare = [1, 16, 64].map((c) => (results[c]!['+syslog']!.ratio / results[c]!['intercept']!.ratio).toFixed(2));
  console.log(`\nwith SIEM delivery (log.syslog over TLS), intercept throughput kept at c=1/16/64: ${syslogShare.join(' / ')}`);
}

await main();
