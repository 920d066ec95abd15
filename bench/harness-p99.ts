/**
 * The latency at concurrency 1 of proxies an anchors harness run keeps up (`run-anchors.sh
 * --keep-running`), in alternating rounds: one client in this process sends one request at a time
 * through each named proxy in turn (the order reversed every other round), then prints each
 * round's p50 and p99, the percentiles of every round pooled, and in how many rounds each proxy's
 * p99 was below the first one's. A p99 moves by a third between rounds of one proxy on this
 * machine, so builds are compared round by round, never one run against another. The harness's
 * load client (client/load.mjs, what per-thread.js drives) adds its own time to every request;
 * this client is lighter, so its p99s are lower than the grid's.
 *
 * node dist/bench/harness-p99.js --run /tmp/egress-bench/RUN \
 *   [--url https://graph.microsoft.com/v1.0/users/u1/manager] [--rounds 10] [--duration 5] NAME...
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ProxyAgent, request } from 'undici';
import { harnessProxies } from './harness-run.js';
import { append, median, percentiles } from './median.js';

function usage(problem: string): never {
  console.error(`harness-p99: ${problem}\nusage: node dist/bench/harness-p99.js --run RUN_DIR [--url URL] [--rounds N] [--duration S] NAME...`);
  process.exit(2);
}

function positiveNumber(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) usage(`--${name} ${JSON.stringify(text)} is not a positive number`);
  return n;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    run: { type: 'string' },
    url: { type: 'string', default: 'https://graph.microsoft.com/v1.0/users/u1/manager' },
    rounds: { type: 'string', default: '10' },
    duration: { type: 'string', default: '5' },
  },
});
if (!values.run) usage('--run is required');
if (positionals.length === 0) usage('name at least one proxy of the run (its proxies.tsv)');
const found = harnessProxies(values.run, positionals);
if (!Array.isArray(found)) usage(found.problem);
const rounds = positiveNumber('rounds', values.rounds);
const roundMs = positiveNumber('duration', values.duration) * 1000;
const url = values.url;

interface Measured {
  readonly name: string;
  readonly agent: ProxyAgent;
  readonly p99: number[];
  readonly all: number[];
}
const proxies: Measured[] = found.map((p) => ({ name: p.name, agent: new ProxyAgent({ uri: `http://127.0.0.1:${p.port}`, requestTls: { ca: readFileSync(p.ca, 'utf8') } }), p99: [], all: [] }));

/** Requests back to back for `ms`: each one's latency in ms. */
async function load(agent: ProxyAgent, ms: number): Promise<number[]> {
  const latencies: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const start = performance.now();
    const res = await request(url, { dispatcher: agent });
    await res.body.dump();
    if (res.statusCode !== 200) {
      console.error(`harness-p99: ${url} answered ${res.statusCode} through the proxy: is it a URL the harness serves?`);
      process.exit(1);
    }
    latencies.push(performance.now() - start);
  }
  return latencies;
}

// A warm-up each first: a proxy's first seconds run cold (its JIT, its pools).
for (const p of proxies) await load(p.agent, Math.min(roundMs, 2000));
for (let r = 1; r <= rounds; r++) {
  for (const p of r % 2 ? proxies : [...proxies].reverse()) {
    const latencies = await load(p.agent, roundMs);
    const [p50, p99] = percentiles(latencies, [0.5, 0.99]) as [number, number];
    p.p99.push(p99);
    append(p.all, latencies);
    console.log(`round ${r} ${p.name.padEnd(18)} p50 ${p50.toFixed(2)} ms  p99 ${p99.toFixed(2)} ms  (${latencies.length} requests)`);
  }
}
const first = proxies[0]!;
console.log(`\n${url} at concurrency 1, ${rounds} rounds of ${roundMs / 1000} s: median of the rounds' p99, then every round pooled (ms)`);
for (const p of proxies) {
  const fractions = [0.5, 0.9, 0.99, 0.999];
  const pooled = percentiles(p.all, fractions).map((x, i) => `p${fractions[i]! * 100} ${x.toFixed(2)}`).join('  ');
  const below = p === first ? '' : `  p99 below ${first.name}'s in ${p.p99.filter((x, i) => x < first.p99[i]!).length} of ${rounds} rounds`;
  console.log(`${p.name.padEnd(18)} p99 ${median(p.p99).toFixed(2)}  pooled ${pooled}${below}`);
}
await Promise.all(proxies.map((p) => p.agent.close()));
