/**
 * The latency at concurrency 1 of proxies an anchors harness run keeps up (`run-anchors.sh
 * --keep-running`), in alternating rounds: one request at a time through each named proxy in
 * turn (the order reversed every other round), then each round's p50 and p99, the percentiles of
 * every round pooled, in how many rounds each proxy's p99 was below the first one's, and each
 * round's first seconds (--early) apart from the rest. A p99 moves by a third between rounds of
 * one proxy on this machine, so builds are compared round by round, never one run against another.
 *
 * By default one client in this process, warm after its first round, times every round. With
 * --fresh-client each round runs in a Node process of its own (fresh-round.ts) after --warmup
 * seconds, as the harness's load client (client/load.mjs) runs every cell of a grid: that
 * client's JIT then compiles beside the proxies on the same two cores for its first second or
 * two, and that is where the grid's p99 at concurrency 1 differs from the warm client's
 * (docs/performance.md, session 36).
 *
 * node dist/bench/harness-p99.js --run /tmp/egress-bench/RUN \
 *   [--url https://graph.microsoft.com/v1.0/users/u1/manager] [--rounds 10] [--duration 5] \
 *   [--fresh-client [--warmup 1]] [--early 1.5] NAME...
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ProxyAgent } from 'undici';
import { numberOption, parseCommandLine, usageError, type Tool } from './command-line.js';
import { harnessProxies } from './harness-run.js';
import { append, median, percentile, percentiles } from './median.js';
import { notServed, proxyClient, timeRequests, type Timed } from './timed-requests.js';

const TOOL: Tool = {
  name: 'harness-p99',
  usage: 'node dist/bench/harness-p99.js --run RUN_DIR [--url URL] [--rounds N] [--duration S] [--fresh-client [--warmup S]] [--early S] NAME...',
};
function usage(problem: string): never {
  return usageError(TOOL, problem);
}

const { values, positionals } = parseCommandLine(TOOL, {
  allowPositionals: true,
  options: {
    run: { type: 'string' },
    url: { type: 'string', default: 'https://graph.microsoft.com/v1.0/users/u1/manager' },
    rounds: { type: 'string', default: '10' },
    duration: { type: 'string', default: '5' },
    'fresh-client': { type: 'boolean', default: false },
    warmup: { type: 'string', default: '1' },
    early: { type: 'string', default: '1.5' },
  },
});
const rounds = numberOption(TOOL, 'rounds', values.rounds, 'positive');
const roundMs = numberOption(TOOL, 'duration', values.duration, 'positive') * 1000;
const warmupMs = numberOption(TOOL, 'warmup', values.warmup, 'zero') * 1000;
const earlyMs = numberOption(TOOL, 'early', values.early, 'positive') * 1000;
if (!values.run) usage('--run is required');
if (positionals.length === 0) usage('name at least one proxy of the run (its proxies.tsv)');
const found = harnessProxies(values.run, positionals);
if (!Array.isArray(found)) usage(found.problem);
const fresh = values['fresh-client'];
const url = values.url;

interface Measured {
  readonly name: string;
  readonly port: string;
  readonly ca: string;
  /** The client of the warm rounds; none with --fresh-client, where each round makes its own. */
  readonly agent: ProxyAgent | undefined;
  readonly p99: number[];
  /** Each round's p99 over its first `earlyMs`, and over the rest. */
  readonly earlyP99: number[];
  readonly laterP99: number[];
  readonly all: number[];
}
const proxies: Measured[] = found.map((p) => ({ name: p.name, port: p.port, ca: p.ca, agent: fresh ? undefined : proxyClient(p.port, p.ca), p99: [], earlyP99: [], laterP99: [], all: [] }));

function refused(status: number): never {
  console.error(`harness-p99: ${notServed(url, status)}`);
  process.exit(1);
}

const FRESH_ROUND = fileURLToPath(new URL('fresh-round.js', import.meta.url));

/** `ms` of requests from a Node process of its own (fresh-round.ts), its JIT cold as the harness's load client's is. */
function freshRound(p: Measured, ms: number): Timed {
  const r = spawnSync(process.execPath, [FRESH_ROUND, p.port, p.ca, url, String(warmupMs), String(ms)], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    process.exit(r.status ?? 1);
  }
  return JSON.parse(r.stdout) as Timed;
}

async function round(p: Measured, ms: number): Promise<Timed> {
  if (!p.agent) return freshRound(p, ms);
  const timed = await timeRequests(p.agent, url, ms);
  return 'status' in timed ? refused(timed.status) : timed;
}

// A warm-up each first: a proxy's first seconds run cold (its JIT, its pools). A fresh client warms up in its own process.
if (!fresh) for (const p of proxies) await round(p, Math.min(roundMs, 2000));
const split = roundMs > earlyMs;
for (let r = 1; r <= rounds; r++) {
  for (const p of r % 2 ? proxies : [...proxies].reverse()) {
    const { startsMs, latenciesMs } = await round(p, roundMs);
    const [p50, p99] = percentiles(latenciesMs, [0.5, 0.99]) as [number, number];
    p.p99.push(p99);
    if (split) {
      p.earlyP99.push(percentile(latenciesMs.filter((_, i) => startsMs[i]! < earlyMs), 0.99));
      p.laterP99.push(percentile(latenciesMs.filter((_, i) => startsMs[i]! >= earlyMs), 0.99));
    }
    append(p.all, latenciesMs);
    console.log(`round ${r} ${p.name.padEnd(18)} p50 ${p50.toFixed(2)} ms  p99 ${p99.toFixed(2)} ms  (${latenciesMs.length} requests)`);
  }
}
const first = proxies[0]!;
const client = fresh ? `a fresh client process a round (${warmupMs / 1000} s of warm-up)` : 'one warm client';
console.log(`\n${url} at concurrency 1, ${rounds} rounds of ${roundMs / 1000} s, ${client}: median of the rounds' p99, then every round pooled (ms)`);
const belowFirst = (p: Measured, of: (m: Measured) => number[]) => `below ${first.name}'s in ${of(p).filter((x, i) => x < of(first)[i]!).length} of ${rounds} rounds`;
for (const p of proxies) {
  const fractions = [0.5, 0.9, 0.99, 0.999];
  const pooled = percentiles(p.all, fractions).map((x, i) => `p${fractions[i]! * 100} ${x.toFixed(2)}`).join('  ');
  const below = p === first ? '' : `  p99 ${belowFirst(p, (m) => m.p99)}`;
  console.log(`${p.name.padEnd(18)} p99 ${median(p.p99).toFixed(2)}  pooled ${pooled}${below}`);
}
// A round too slow to start a request past `earlyMs` has no "after" (NaN): left out, and 'none' if no round has one.
const medianOf = (xs: number[]) => {
  const measured = xs.filter((x) => !Number.isNaN(x));
  return measured.length === 0 ? 'none' : median(measured).toFixed(2);
};
if (split) {
  // A fresh client's first second or two is its JIT at work beside the proxies on the same cores (docs/performance.md, session 36).
  console.log(`\neach round's first ${earlyMs / 1000} s and the rest apart: median of the rounds' p99 (ms)`);
  for (const p of proxies) {
    const [early, later] = p === first ? ['', ''] : [` (${belowFirst(p, (m) => m.earlyP99)})`, ` (${belowFirst(p, (m) => m.laterP99)})`];
    console.log(`${p.name.padEnd(18)} first ${earlyMs / 1000} s p99 ${medianOf(p.earlyP99)}${early}  after ${medianOf(p.laterP99)}${later}`);
  }
}
await Promise.all(proxies.map((p) => p.agent?.close()));
