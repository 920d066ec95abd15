/**
 * Where the slow requests at concurrency 1 go: the gateway and the floor (floor-proxy.ts) each
 * serve one client that sends its next request as the last one ends, in alternating rounds, with
 * bench/tail-probe.ts inside them marking V8's collections, the sinks' work (records and commits)
 * and each request's time inside node:http. Prints each one's p99 by round, then which requests
 * above --slow-ms overlapped a scavenge, the sinks' work, or neither; what overlapped sink work or a
 * scavenge by chance is about their share of the time, so compare the gateway with the floor,
 * not with zero. The p99 target of issue 19 is read in the anchors harness beside Squid; this
 * says what is behind it.
 *
 * npm run build && node dist/bench/tail.js [--rounds 8] [--seconds 5] [--slow-ms 0.8]
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProxyAgent, request } from 'undici';
import { numberOption, parseCommandLine, type Tool } from './command-line.js';
import { startFloor, startGateway, startUpstream, writeGatewayConfig } from './child.js';
import { append, median, percentile, percentiles } from './median.js';
import type { Mark } from './tail-probe.js';

const TOOL: Tool = { name: 'tail', usage: 'node dist/bench/tail.js [--rounds N] [--seconds S] [--slow-ms MS]' };
const { values } = parseCommandLine(TOOL, { options: { rounds: { type: 'string', default: '8' }, seconds: { type: 'string', default: '5' }, 'slow-ms': { type: 'string', default: '0.8' } } });
const rounds = numberOption(TOOL, 'rounds', values.rounds, 'positive');
const roundMs = numberOption(TOOL, 'seconds', values.seconds, 'positive') * 1000;
const slowMs = numberOption(TOOL, 'slow-ms', values['slow-ms'], 'positive');
const probe = ['--import', fileURLToPath(new URL('./tail-probe.js', import.meta.url))];
const CALL = 'https://acme.okta.com/api/v1/users';

const dir = mkdtempSync(join(tmpdir(), 'idp-egress-tail-'));
const upstream = await startUpstream(dir, ['acme.okta.com']);
const config = writeGatewayConfig(
  dir,
  `providers:\n  okta:\n    domain: acme.okta.com\nupstream:\n  ca: ${upstream.certFile}\n  resolve:\n    acme.okta.com: 127.0.0.1:${upstream.port}\n  allowPrivate: [acme.okta.com]\n`,
);

interface Target {
  readonly name: string;
  readonly out: string;
  readonly proc: { kill(signal: NodeJS.Signals): boolean };
  readonly agent: ProxyAgent;
  readonly p99: number[];
  readonly latencies: number[];
  readonly scavenges: number[];
  slow: number;
  byScavenge: number;
  bySink: number;
  byNeither: number;
}

function target(name: string, out: string, proc: Target['proc'], port: number, ca: string): Target {
  const agent = new ProxyAgent({ uri: `http://127.0.0.1:${port}`, requestTls: { ca } });
  return { name, out, proc, agent, p99: [], latencies: [], scavenges: [], slow: 0, byScavenge: 0, bySink: 0, byNeither: 0 };
}

process.env.TAIL_PROBE_OUT = join(dir, 'gateway-marks.json');
const gateway = await startGateway(config, probe);
process.env.TAIL_PROBE_OUT = join(dir, 'floor-marks.json');
const floor = await startFloor(dir, upstream.certFile, upstream.port, [], probe);
const targets = [
  target('idp-egress', join(dir, 'gateway-marks.json'), gateway.proc, gateway.port, readFileSync(join(dir, 'certs/ca.pem'), 'utf8')),
  target('floor', join(dir, 'floor-marks.json'), floor.proc, floor.port, upstream.ca.certPem),
];

const clock = () => performance.timeOrigin + performance.now();
/** One client, one request at a time, for `ms`: each request's start and end. */
async function load(agent: ProxyAgent, ms: number): Promise<[number, number][]> {
  const spans: [number, number][] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const start = clock();
    const res = await request(CALL, { dispatcher: agent });
    await res.body.text();
    spans.push([start, clock()]);
  }
  return spans;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
// A warm-up round each: the first measured round ran cold (its p99 two to three times the rest).
for (const t of targets) await load(t.agent, roundMs);
for (let round = 0; round < rounds; round++) {
  for (const t of targets) {
    t.proc.kill('SIGUSR2');
    await pause(100);
    const spans = await load(t.agent, roundMs);
    t.proc.kill('SIGUSR2');
    await pause(300);
    const marks = (JSON.parse(readFileSync(t.out, 'utf8')) as Mark[]).filter((m) => m[2] >= spans[0]![0] && m[1] <= spans.at(-1)![1]);
    const scavenges = marks.filter((m) => m[0] === 'scavenge');
    const sinkWork = marks.filter((m) => m[0] === 'sink');
    const latencies = spans.map(([s, e]) => e - s);
    t.p99.push(percentile(latencies, 0.99));
    append(t.latencies, latencies);
    append(t.scavenges, scavenges.map((m) => m[2] - m[1]));
    for (const [s, e] of spans) {
      if (e - s <= slowMs) continue;
      t.slow++;
      const overlaps = (m: Mark) => m[1] < e && m[2] > s;
      const byScavenge = scavenges.some(overlaps);
      const bySink = sinkWork.some(overlaps);
      if (byScavenge) t.byScavenge++;
      if (bySink) t.bySink++;
      if (!byScavenge && !bySink) t.byNeither++;
    }
  }
}

const share = (n: number, of: number) => `${((n / of) * 100).toFixed(2)} %`;
for (const t of targets) {
  const n = t.latencies.length;
  const [p50, p99] = percentiles(t.latencies, [0.5, 0.99]) as [number, number];
  console.log(`${t.name}: ${n} requests, p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms`);
  console.log(`  p99 by round (ms): ${t.p99.map((x) => x.toFixed(2)).join(' ')}; median ${median(t.p99).toFixed(3)}`);
  console.log(`  scavenges: ${((t.scavenges.length / n) * 1000).toFixed(2)} per 1000 requests, pause p50 ${percentile(t.scavenges, 0.5).toFixed(3)} ms`);
  console.log(`  above ${slowMs} ms: ${share(t.slow, n)} of requests; overlapping a scavenge ${share(t.byScavenge, n)}, the sinks' work ${share(t.bySink, n)}, neither ${share(t.byNeither, n)}`);
  t.proc.kill('SIGKILL');
  await t.agent.close();
}
upstream.upstream.proc.kill('SIGKILL');
