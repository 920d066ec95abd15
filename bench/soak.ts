/**
 * npm run bench:soak: the gateway under a mixed, partly hostile load for about ten minutes
 * (IDP_EGRESS_SOAK_SECONDS to change it), to see whether anything accumulates. Clients, in a
 * steady mix: allowed requests on keep-alive tunnels, denied requests inside tunnels, denied
 * CONNECTs, slowloris headers (cut with a 408), tunnels that disconnect before their ClientHello,
 * and clients that hang up right after sending a request. The gateway (the built binary) and the
 * upstream each run in their own process.
 *
 * Samples the gateway's RSS, V8 heap and open file descriptors every 10 s after a warm-up, and
 * compares the floor (lowest sample) of the first half with that of the second (target: growth
 * under 5%): the heap swings by half between collections, so two single samples say more about
 * when the collector ran than about a leak, while a leak raises the floor, and the events the clients caused against the events its audit log
 * accounts for, summaries included (target: equal). Not run in CI.
 */
import { createReadStream, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { GATEWAY_NODE_OPTIONS } from '../src/core/gc-tuning.js';
import { startChild } from './child.js';
import { runFolder } from './run-folder.js';
import { serverCert, testCa } from '../test/support/pki.js';
import { completeResponse, readUntil } from '../test/support/raw.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const SECONDS = Number(process.env['IDP_EGRESS_SOAK_SECONDS'] ?? 600);
const WARM_UP_SECONDS = Math.min(60, Math.round(SECONDS / 5));
const GROWTH_TARGET = 0.05;
/** Often enough that each half holds samples taken just after a collection. */
const SAMPLE_MS = 10_000;

/**
 * The gateway's node is started as `npm start` starts it (src/core/gc-tuning.ts), then with
 * IDP_EGRESS_SOAK_NODE_FLAGS: more flags, e.g. --heapsnapshot-signal=SIGUSR2 to look for what
 * grows, or a shipped option with another value (a later value wins).
 */
const GATEWAY_FLAGS = [...GATEWAY_NODE_OPTIONS, ...(process.env['IDP_EGRESS_SOAK_NODE_FLAGS'] ?? '').split(' ').filter(Boolean)];


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const { dir, remove } = runFolder('idp-egress-soak-');
  const hosts = ['graph.microsoft.com'];
  const { ca, certFile } = await testCa('idp-egress soak upstream CA', dir);
  const tls = serverCert(ca, hosts);
  writeFileSync(join(dir, 'key.pem'), tls.key);
  writeFileSync(join(dir, 'cert.pem'), tls.cert);
  const upstream = await startChild([join(HERE, 'upstream-server.js'), join(dir, 'key.pem'), join(dir, 'cert.pem')], /^(\d+)\n/, 'stdout');
  writeFileSync(
    join(dir, 'idp-egress.yaml'),
    `listen: 127.0.0.1:0
admin: 127.0.0.1:0
log:
  stdout: false
  file: ${join(dir, 'audit.jsonl')}
limits:
  headersTimeout: 2s
providers:
  entra-id: {}
upstream:
  ca: ${certFile}
  resolve:
    graph.microsoft.com: 127.0.0.1:${upstream.match[1]}
  allowPrivate: [graph.microsoft.com]
`,
  );
  const gateway = await startChild([join(HERE, '../src/cli/main.js'), 'serve', '--config', join(dir, 'idp-egress.yaml')], /admin on 127\.0\.0\.1:(\d+)/, 'stderr', GATEWAY_FLAGS);
  const gatewayPort = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(gateway.text)![1]);
  const adminPort = Number(gateway.match[1]);
  const gatewayCa = readFileSync(join(dir, 'certs/ca.pem'), 'utf8');

  /**
   * What the clients saw, by kind; each kind is one audit event per occurrence (written, or
   * counted into a summary line). Hang-ups are the exception: whether the gateway read a request
   * from a client that left 1 ms after sending it is a race, so they are reported, not compared.
   */
  const counts = { allowed: 0, deniedInTunnel: 0, deniedConnect: 0, slowloris: 0, earlyDisconnect: 0, tunnels: 0, hangUp: 0 };
  const end = Date.now() + SECONDS * 1000;

  const open = () => {
    const s = netConnect(gatewayPort, '127.0.0.1');
    s.on('error', () => undefined);
    return s;
  };
  async function tunnel(): Promise<TLSSocket | undefined> {
    const s = open();
    s.write('CONNECT graph.microsoft.com:443 HTTP/1.1\r\nHost: graph.microsoft.com:443\r\n\r\n');
    const head = await readUntil(s, (t) => t.includes('\r\n\r\n'), 30_000);
    if (!head.startsWith('HTTP/1.1 200')) throw new Error(`CONNECT answered ${JSON.stringify(head.slice(0, 60))}`);
    const t = tlsConnect({ socket: s, servername: 'graph.microsoft.com', ca: gatewayCa, ALPNProtocols: ['http/1.1'] });
    t.on('error', () => undefined);
    await new Promise((r) => t.once('secureConnect', r).once('close', r));
    counts.tunnels++;
    return t;
  }

  // Keep-alive tunnels that make allowed requests, with a denied one now and then.
  const keepAlive = async () => {
    while (Date.now() < end) {
      const t = await tunnel();
      if (!t) continue;
      for (let i = 0; i < 200 && Date.now() < end && !t.destroyed; i++) {
        const denied = i % 10 === 9;
        t.write(`GET ${denied ? '/v1.0/users/u1/drive' : '/v1.0/users?$top=10'} HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\n`);
        const answer = await readUntil(t, completeResponse, 30_000);
        if (!completeResponse(answer)) throw new Error(`no whole answer to a request: ${JSON.stringify(answer.slice(0, 60))}`);
        if (denied) counts.deniedInTunnel++;
        else counts.allowed++;
      }
      t.destroy();
    }
  };
  const deniedConnects = async () => {
    while (Date.now() < end) {
      const s = open();
      s.write('CONNECT evil.test:443 HTTP/1.1\r\nHost: evil.test:443\r\n\r\n');
      if (!completeResponse(await readUntil(s, completeResponse, 30_000))) throw new Error('a denied CONNECT got no answer');
      s.destroy();
      counts.deniedConnect++;
      await sleep(20);
    }
  };
  const slowloris = async () => {
    while (Date.now() < end) {
      const s = open();
      s.write('GET https://graph.microsoft.com/v1.0/users HTTP/1.1\r\nHost: graph.microsoft.com\r\n');
      const timer = setInterval(() => s.writable && s.write('X: 1\r\n'), 500);
      const answer = await readUntil(s, completeResponse, 30_000);
      clearInterval(timer);
      s.destroy();
      if (!answer.startsWith('HTTP/1.1 408')) throw new Error(`slowloris answered ${JSON.stringify(answer.slice(0, 60))}`);
      counts.slowloris++;
    }
  };
  const disconnecting = async () => {
    while (Date.now() < end) {
      // A tunnel that goes away before its ClientHello.
      const s = open();
      s.write('CONNECT graph.microsoft.com:443 HTTP/1.1\r\nHost: graph.microsoft.com:443\r\n\r\n');
      await readUntil(s, (t) => t.includes('\r\n\r\n'), 30_000);
      s.destroy();
      counts.earlyDisconnect++;
      // A client that hangs up right after its request.
      const t = await tunnel();
      if (t) {
        t.write('GET /v1.0/users?$top=1 HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\n');
        await sleep(1);
        t.destroy();
        counts.hangUp++;
      }
      await sleep(20);
    }
  };

  const sample = async () => {
    const pid = gateway.proc.pid!;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    const heap = Number(/^nodejs_heap_size_used_bytes (\d+)/m.exec(metrics)?.[1] ?? NaN);
    return { rss, heap, fds };
  };

  console.log(`soak: ${SECONDS} s (warm-up ${WARM_UP_SECONDS} s), gateway pid ${gateway.proc.pid}`);
  const load = Promise.all([keepAlive(), keepAlive(), keepAlive(), keepAlive(), deniedConnects(), slowloris(), slowloris(), disconnecting()]);
  await sleep(WARM_UP_SECONDS * 1000);
  const warm = await sample();
  const samples = [warm];
  console.log(`warm: RSS ${(warm.rss / 1024 / 1024).toFixed(1)} MB, heap ${(warm.heap / 1024 / 1024).toFixed(1)} MB, ${warm.fds} fds`);
  const sampler = setInterval(
    () =>
      void sample().then((x) => {
        samples.push(x);
        console.log(`RSS ${(x.rss / 1024 / 1024).toFixed(1)} MB, heap ${(x.heap / 1024 / 1024).toFixed(1)} MB, ${x.fds} fds`);
      }),
    SAMPLE_MS,
  );
  await load;
  clearInterval(sampler);
  // Let the last events and the gateway's own timers settle before the final sample.
  await sleep(3_000);
  samples.push(await sample());
  gateway.proc.kill('SIGTERM');
  await new Promise((r) => gateway.proc.once('exit', r));
  upstream.proc.kill('SIGTERM');

  // Events by kind as the audit accounts for them, a summary line standing for its count.
  const audited = { allowed: 0, deniedInTunnel: 0, deniedConnect: 0, slowloris: 0, earlyDisconnect: 0, tunnels: 0, hangUp: 0, other: 0 };
  let lines = 0;
  // Ten minutes of load writes gigabytes of audit: read it line by line.
  for await (const line of createInterface({ input: createReadStream(join(dir, 'audit.jsonl')), crlfDelay: Infinity })) {
    if (!line) continue;
    const e = JSON.parse(line) as { event?: string; summarises?: string; count?: number; code?: string; url?: string; status?: number };
    if (e.event === undefined) continue; // the gateway's own lines
    lines++;
    const n = e.event === 'summary' ? (e.count ?? 0) : 1;
    const event = e.event === 'summary' ? e.summarises : e.event;
    const kind =
      e.code === 'PATH_NOT_ALLOWED' ? 'deniedInTunnel'
      : e.code === 'HOST_NOT_ALLOWED' ? 'deniedConnect'
      : e.code === 'REQUEST_TIMEOUT' ? 'slowloris'
      : event === 'connect' && e.code === 'MALFORMED_REQUEST' ? 'earlyDisconnect'
      : event === 'connect' && e.code === 'ALLOWED' ? 'tunnels'
      : event === 'request' && e.url?.endsWith('$top=10') && e.status === 200 ? 'allowed'
      : event === 'request' && e.url?.endsWith('$top=1') ? 'hangUp'
      : 'other';
    audited[kind] += n;
  }
  // Gigabytes of audit: counted, then not left in the temporary folder.
  remove();
  const compared = ['allowed', 'deniedInTunnel', 'deniedConnect', 'slowloris', 'earlyDisconnect', 'tunnels'] as const;
  const seen = compared.reduce((a, k) => a + counts[k], 0);
  const accounted = compared.reduce((a, k) => a + audited[k], 0);

  const growth = (a: number, b: number) => (b - a) / a;
  const row = (name: string, a: number, b: number, unit: (n: number) => string) => {
    const g = growth(a, b);
    console.log(`${name.padEnd(24)} ${unit(a).padStart(10)} ${unit(b).padStart(10)} ${`${(g * 100).toFixed(1)}%`.padStart(8)}  ${g < GROWTH_TARGET ? 'met' : 'MISSED'} (< ${GROWTH_TARGET * 100}%)`);
  };
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  console.log(`\n${'kind'.padEnd(18)} ${'clients saw'.padStart(12)} ${'audit'.padStart(10)}`);
  for (const k of compared) console.log(`${k.padEnd(18)} ${String(counts[k]).padStart(12)} ${String(audited[k]).padStart(10)}${counts[k] === audited[k] ? '' : '  DIFFERS'}`);
  console.log(`${'hangUp (a race)'.padEnd(18)} ${String(counts.hangUp).padStart(12)} ${String(audited.hangUp).padStart(10)}`);
  console.log(`${'other'.padEnd(18)} ${''.padStart(12)} ${String(audited.other).padStart(10)}`);
  console.log(`\nRSS every 10 s after warm-up: ${samples.map((x) => mb(x.rss)).join(', ')}`);
  console.log(`heap every 10 s after warm-up: ${samples.map((x) => mb(x.heap)).join(', ')}`);
  const half = Math.ceil(samples.length / 2);
  const floor = (xs: typeof samples, k: 'rss' | 'heap' | 'fds') => Math.min(...xs.map((x) => x[k]));
  const [early, late] = [samples.slice(0, half), samples.slice(half)];
  console.log(`${'floor (lowest sample)'.padEnd(24)} ${'1st half'.padStart(10)} ${'2nd half'.padStart(10)} ${'growth'.padStart(8)}`);
  row('RSS', floor(early, 'rss'), floor(late, 'rss'), mb);
  row('V8 heap used', floor(early, 'heap'), floor(late, 'heap'), mb);
  row('open file descriptors', floor(early, 'fds'), floor(late, 'fds'), String);
  console.log(`answered and refused, as the clients saw them: ${seen}; as the audit log accounts for them: ${accounted} (${lines} lines, summaries included) ${seen === accounted ? 'equal: met' : 'MISSED'}`);
}

await main();
