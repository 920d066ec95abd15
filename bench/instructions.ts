/**
 * npm run bench:instructions: machine instructions per intercepted request at concurrency 1, the
 * gateway beside the floor (floor-proxy.ts), each under valgrind's callgrind, in one run.
 *
 * CPU time per request on a shared 2-core machine moves by 20-40 % between runs of the same build
 * (steal, the other tenants' caches), more than most single changes are worth. An instruction
 * count moves far less: the floor's by 0.2 % between runs, the gateway's main thread by up to 8 %,
 * most of it the garbage collector's share (9k to 30k a request: some scavenges are scheduled by
 * the clock) and the audit batch's (cut every 50 ms, so valgrind's speed sets how many outcomes
 * share one). Less the collector, five runs of one build were within 2 % (README, "Instructions
 * per request"), so that is the column to compare builds by, each run alone: two benches side by
 * side once gave one build 24 slow property definitions a request that a run alone did not. It is
 * not time: a cache miss costs no instruction, and the kernel's share (a third of the CPU at
 * concurrency 1) is not counted. Use the anchors harness for the figures beside Squid.
 *
 * The main thread (the event loop: TLS, HTTP, policy, audit) is reported apart from the other
 * threads (V8's JIT compilation and concurrent marking, libuv's pool writing the audit file),
 * whose share still falls for tens of thousands of requests after start while the JIT settles.
 * IDP_EGRESS_BENCH_WARMUP and IDP_EGRESS_BENCH_REQUESTS set the counts (4000 and 2000; the
 * counted requests in two halves, whose agreement the bench reports).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProxyAgent, request, type Dispatcher } from 'undici';
import { startFloor, startGateway, startUpstream, writeGatewayConfig } from './child.js';

/** A count from the environment: a whole number of at least `least`, or the bench stops and says so. */
function countFromEnv(name: string, fallback: number, least: number): number {
  const text = process.env[name];
  const n = text === undefined ? fallback : Number(text);
  if (!Number.isInteger(n) || n < least) {
    console.error(`${name}=${text}: give a whole number of at least ${least} (default ${fallback})`);
    process.exit(2);
  }
  return n;
}

const WARMUP = countFromEnv('IDP_EGRESS_BENCH_WARMUP', 4_000, 0);
// Counted in two halves, each at least one request.
const REQUESTS = countFromEnv('IDP_EGRESS_BENCH_REQUESTS', 2_000, 2);
const URL_PATH = 'https://acme.okta.com/api/v1/users';

const vgdbPrefix = (dir: string, name: string) => join(dir, `${name}.vgdb-pipe`);

/**
 * callgrind_control reaches a run through valgrind's gdbserver pipes (vgdb): without them it
 * finds no run and still exits 0. The pipes live in the run folder, so a killed child leaves none
 * in /tmp.
 */
function callgrindControl(pipes: string, args: string[]): void {
  const r = spawnSync('callgrind_control', [`--vgdb-prefix=${pipes}`, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`callgrind_control ${args.join(' ')}: ${r.stderr || r.stdout}`);
}

async function sequential(dispatcher: Dispatcher, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await request(URL_PATH, { dispatcher });
    await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${URL_PATH}: ${res.statusCode}`);
  }
}

interface Count {
  readonly main: number;
  /** Of the main thread's, inside V8's collections (Heap::CollectGarbage, inclusive). */
  readonly collector: number | undefined;
  readonly workers: number;
}

const COLLECTOR_FRAME = 'v8::internal::Heap::CollectGarbage(';

/**
 * The instructions a dump spent inside V8's collections. When a scavenge runs depends on the
 * clock as well as on allocation (V8 schedules some as tasks), so this share moved from 9k to 30k
 * a request between runs of one build, and the main thread less it is what compares builds.
 * Undefined when the dump has no such frame (no collection in the window, or a Node that names
 * it otherwise), so the table says so rather than subtracting nothing.
 */
function collectorInstructions(file: string): number | undefined {
  const r = spawnSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', file], { encoding: 'utf8', maxBuffer: 512 << 20 });
  if (r.status !== 0) throw new Error(`callgrind_annotate ${file}: ${r.stderr}`);
  const line = r.stdout.split('\n').find((l) => l.includes(COLLECTOR_FRAME));
  return line === undefined ? undefined : Number(line.trim().split(/\s+/)[0]!.replace(/,/g, ''));
}

/** One dump's threads: the main thread's instructions, its collector's share, and the rest. */
function readDump(dir: string, name: string, dump: number): { main: number; collector: number | undefined; workers: number } {
  let main = 0;
  let collector: number | undefined;
  let workers = 0;
  const files = readdirSync(dir).filter((f) => f.startsWith(`${name}.cg.${dump}-`));
  if (!files.some((f) => f.endsWith('-01'))) throw new Error(`${dir}: no main-thread file for ${name}'s dump ${dump} (${name}.cg.${dump}-01): callgrind_control reached no run`);
  for (const file of files) {
    const summary = /^summary: (\d+)$/m.exec(readFileSync(join(dir, file), 'utf8'));
    if (!summary) throw new Error(`${file}: no summary line`);
    if (file.endsWith('-01')) {
      main += Number(summary[1]);
      collector = collectorInstructions(join(dir, file));
    } else {
      workers += Number(summary[1]);
    }
  }
  return { main, collector, workers };
}

/** A count over all the counted requests, and the same over each half of them. */
interface Counted {
  readonly whole: Count;
  readonly halves: readonly [Count, Count];
}

/**
 * Warms a proxy up, zeroes its counters, sends REQUESTS requests one at a time in two halves and
 * dumps after each. With --separate-threads each thread's dump is its own file, thread 1 (suffix
 * -01) the main thread; dump N's files end .cg.N-TT. The halves say whether the count is steady:
 * when the JIT or the collector changes course inside the window, they part.
 */
async function countOne(name: string, dir: string, proxyPort: number, pid: number, ca: string): Promise<Counted> {
  const control = (args: string[]) => callgrindControl(vgdbPrefix(dir, name), args);
  const dispatcher = new ProxyAgent({ uri: `http://127.0.0.1:${proxyPort}`, requestTls: { ca }, headersTimeout: 120_000, bodyTimeout: 120_000 });
  await sequential(dispatcher, WARMUP);
  control(['-z', String(pid)]);
  const sizes = [Math.floor(REQUESTS / 2), REQUESTS - Math.floor(REQUESTS / 2)] as const;
  for (const n of sizes) {
    await sequential(dispatcher, n);
    control(['-d', String(pid)]);
  }
  await dispatcher.close();
  const [a, b] = [readDump(dir, name, 1), readDump(dir, name, 2)];
  // A Node that names its collector otherwise has the frame in neither dump; one dump without it
  // had no collection.
  const named = a.collector !== undefined || b.collector !== undefined;
  const per = (d: typeof a, n: number): Count => ({ main: d.main / n, collector: named ? (d.collector ?? 0) / n : undefined, workers: d.workers / n });
  return {
    whole: per({ main: a.main + b.main, collector: named ? (a.collector ?? 0) + (b.collector ?? 0) : undefined, workers: a.workers + b.workers }, REQUESTS),
    halves: [per(a, sizes[0]), per(b, sizes[1])],
  };
}

async function main(): Promise<void> {
  if (spawnSync('valgrind', ['--version']).status !== 0) {
    console.error('bench:instructions needs valgrind (Debian: apt-get install valgrind)');
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'idp-egress-instructions-'));
  const { ca, certFile, upstream, port: upstreamPort } = await startUpstream(dir, ['acme.okta.com']);
  const config = writeGatewayConfig(
    dir,
    `providers:
  okta:
    domain: acme.okta.com
upstream:
  ca: ${certFile}
  resolve:
    acme.okta.com: 127.0.0.1:${upstreamPort}
  allowPrivate: [acme.okta.com]
`,
  );
  const callgrind = (name: string) => ['valgrind', '--tool=callgrind', `--vgdb-prefix=${vgdbPrefix(dir, name)}`, '--separate-threads=yes', '--dump-instr=no', `--callgrind-out-file=${join(dir, `${name}.cg`)}`];
  const [gateway, floor] = await Promise.all([
    startGateway(config, [], callgrind('gateway')),
    startFloor(dir, certFile, upstreamPort, callgrind('floor')),
  ]);
  const gatewayCa = readFileSync(join(dir, 'certs/ca.pem'), 'utf8');
  // Side by side, in half the time: the floor's count does not depend on the machine's speed, and
  // the gateway's moves a little with it (its audit batch is cut by the clock; the header).
  const [gCounted, fCounted] = await Promise.all([
    countOne('gateway', dir, gateway.port, gateway.proc.pid!, gatewayCa),
    countOne('floor', dir, floor.port, floor.proc.pid!, ca.certPem),
  ]);
  const [g, f] = [gCounted.whole, fCounted.whole];
  for (const child of [gateway, floor, upstream]) child.proc.kill('SIGKILL');

  const k = (n: number) => `${(n / 1000).toFixed(1)}k`.padStart(8);
  console.log(`instructions per intercepted request, concurrency 1 (callgrind; node ${process.version}; ${WARMUP} requests of warm-up, then ${REQUESTS} counted)\n`);
  console.log('| proxy   | main thread | of it, GC | main less GC | other threads | total |');
  console.log('|---|---|---|---|---|---|');
  const orNone = (n: number | undefined) => (n === undefined ? 'none'.padStart(8) : k(n));
  const lessCollector = (c: Count) => (c.collector === undefined ? undefined : c.main - c.collector);
  for (const [name, c] of [['gateway', g], ['floor', f]] as const) console.log(`| ${name.padEnd(7)} | ${k(c.main)} | ${orNone(c.collector)} | ${orNone(lessCollector(c))} | ${k(c.workers)} | ${k(c.main + c.workers)} |`);
  const gLess = lessCollector(g);
  const fLess = lessCollector(f);
  const lessRatio = gLess === undefined || fLess === undefined ? `none (no ${COLLECTOR_FRAME}...) frame in a main thread's dump)` : (gLess / fLess).toFixed(2);
  console.log(`\ngateway / floor: main thread ${(g.main / f.main).toFixed(2)}, less GC ${lessRatio}, total ${((g.main + g.workers) / (f.main + f.workers)).toFixed(2)}`);
  // Five runs of one build were within 2 % of each other less GC (README); halves further apart
  // than that are a count to take again, not a difference between builds.
  const halvesApart = (c: Counted) => {
    const [a, b] = c.halves.map((h) => lessCollector(h) ?? h.main) as [number, number];
    return { text: `${k(a).trim()} / ${k(b).trim()}`, apart: Math.abs(a - b) / Math.min(a, b) };
  };
  const gh = halvesApart(gCounted);
  const fh = halvesApart(fCounted);
  console.log(`main thread less GC, first half / second half: gateway ${gh.text} (${(gh.apart * 100).toFixed(1)} % apart), floor ${fh.text} (${(fh.apart * 100).toFixed(1)} %)`);
  for (const [name, h] of [['gateway', gh], ['floor', fh]] as const) {
    if (h.apart > 0.02) console.log(`  the ${name}'s halves are more than 2 % apart: the JIT or the collector changed course during the count; run it again before comparing builds`);
  }
  console.log(`callgrind files (callgrind_annotate <file>): ${dir}`);
}

await main();
