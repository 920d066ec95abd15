/**
 * Per-thread CPU per request of the proxies an anchors harness run keeps up (`run-anchors.sh
 * --keep-running`), in alternating rounds: each round runs the harness's load client through
 * each named proxy in turn, starting one proxy further along each round, and reads every
 * thread's user and kernel time from /proc/PID/task/TID/stat around it. Each round is also read
 * as ratios to the first proxy's figure in the same round (bench/paired-ratios.ts). The harness's
 * own figure is the whole process tree; this one shows the event loop apart from V8's and libuv's
 * worker threads, and user space apart from the kernel (README, "Beside Squid"). Only the proxy's
 * own process is read: Squid's certificate helpers are not, which keep-alive load does not call.
 *
 * node dist/bench/per-thread.js --harness /tmp/bench-anchors --run /tmp/egress-bench/RUN \
 *   --url https://graph.microsoft.com/v1.0/users/u1/manager [--concurrency 1] [--duration 10] \
 *   [--rounds 4] [--max-steal 15] NAME...        (NAME: a proxy of the run's proxies.tsv)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { numberOption, parseCommandLine, usageError, type Tool } from './command-line.js';
import { harnessProxies, type HarnessProxy } from './harness-run.js';
import { median } from './median.js';
import { pairedRatios } from './paired-ratios.js';

/** /proc's times are in clock ticks (proc(5)): sysconf(_SC_CLK_TCK), as the harness reads it too. */
const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** User and kernel ticks by thread name (trailing digits dropped: V8Worker, libuv-worker). */
type ThreadTicks = Map<string, { user: number; kernel: number }>;

interface Round {
  readonly proxy: string;
  readonly round: number;
  readonly requests: number;
  readonly stealPct: number;
  readonly p99Ms: number;
  /** Microseconds a request, by thread name. */
  readonly threads: Map<string, { user: number; kernel: number }>;
  readonly totalUs: number;
}

const TOOL: Tool = {
  name: 'per-thread',
  usage: 'node dist/bench/per-thread.js --harness DIR --run RUN_DIR --url URL [--concurrency N] [--duration S] [--rounds N] [--max-steal PCT] NAME...',
};
function usage(problem: string): never {
  return usageError(TOOL, problem);
}
const positiveNumber = (option: string, text: string): number => numberOption(TOOL, option, text, 'positive');

function threadTicks(pid: string): ThreadTicks {
  const ticks: ThreadTicks = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended between the listing and the read
    }
    // proc(5): the name is in parentheses and may hold spaces; utime and stime are fields 14
    // and 15, the 12th and 13th after the closing parenthesis and the state.
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+$/, '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const t = ticks.get(name) ?? { user: 0, kernel: 0 };
    t.user += Number(fields[11]);
    t.kernel += Number(fields[12]);
    ticks.set(name, t);
  }
  return ticks;
}

function oneRound(round: number, proxy: HarnessProxy, loadClient: string, url: string, concurrency: number, durationS: number): Round {
  const before = threadTicks(proxy.pid);
  const out = execFileSync(process.execPath, [loadClient, '--url', url, '--proxy', `http://127.0.0.1:${proxy.port}`, '--ca', proxy.ca, '--concurrency', String(concurrency), '--duration', String(durationS), '--warmup', '0'], { encoding: 'utf8' });
  const after = threadTicks(proxy.pid);
  const load = JSON.parse(out) as { ok: number; errors: number; latency_ms: { p99: number }; machine: { steal_pct: number } };
  if (load.ok === 0) throw new Error(`${proxy.name}: no request succeeded (${load.errors} errors)`);
  const usPerTick = 1e6 / TICKS_PER_SECOND;
  const threads = new Map<string, { user: number; kernel: number }>();
  let totalUs = 0;
  for (const [name, a] of after) {
    const b = before.get(name) ?? { user: 0, kernel: 0 };
    const user = ((a.user - b.user) * usPerTick) / load.ok;
    const kernel = ((a.kernel - b.kernel) * usPerTick) / load.ok;
    threads.set(name, { user, kernel });
    totalUs += user + kernel;
  }
  return { proxy: proxy.name, round, requests: load.ok, stealPct: load.machine.steal_pct, p99Ms: load.latency_ms.p99, threads, totalUs };
}

function rotated<T>(xs: readonly T[], by: number): T[] {
  const k = by % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

function main(): void {
  const { values, positionals } = parseCommandLine(TOOL, {
    allowPositionals: true,
    options: {
      harness: { type: 'string' },
      run: { type: 'string' },
      url: { type: 'string' },
      concurrency: { type: 'string', default: '1' },
      duration: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '4' },
      'max-steal': { type: 'string', default: '15' },
    },
  });
  const concurrency = positiveNumber('concurrency', values.concurrency);
  const durationS = positiveNumber('duration', values.duration);
  const rounds = positiveNumber('rounds', values.rounds);
  const maxSteal = positiveNumber('max-steal', values['max-steal']);
  if (!values.harness || !values.run || !values.url) usage('--harness, --run and --url are required');
  if (positionals.length === 0) usage('name at least one proxy of the run (its proxies.tsv)');
  const loadClient = join(values.harness, 'client/load.mjs');
  if (!existsSync(loadClient)) usage(`no load client at ${loadClient}: --harness is the bench-anchors folder`);
  const proxies = harnessProxies(values.run, positionals);
  if (!Array.isArray(proxies)) usage(proxies.problem);

  const all: Round[] = [];
  for (let r = 1; r <= rounds; r++) {
    // Each round starts one proxy further along, as the harness rotates its order per repeat: in
    // a fixed order, two copies of one build, one always run right after the other, measured 211
    // and 228 us a request (4 rounds), so a place in the order can pass for a change.
    for (const p of rotated(proxies, r - 1)) {
      const round = oneRound(r, p, loadClient, values.url, concurrency, durationS);
      all.push(round);
      const threads = [...round.threads].filter(([, t]) => t.user + t.kernel >= 0.5).map(([name, t]) => `${name} ${t.user.toFixed(0)}u+${t.kernel.toFixed(0)}k`);
      console.log(`round ${r} ${p.name.padEnd(18)} ${round.totalUs.toFixed(0).padStart(5)} us/req  steal ${round.stealPct.toFixed(1).padStart(4)} %  p99 ${round.p99Ms.toFixed(2)} ms  ${threads.join(', ')}`);
    }
  }
  console.log(`\nmedians over the rounds under ${maxSteal} % steal (us a request; u user, k kernel, per thread name):`);
  for (const p of proxies) {
    const quiet = all.filter((r) => r.proxy === p.name && r.stealPct <= maxSteal);
    if (quiet.length === 0) {
      console.log(`${p.name.padEnd(18)} no round under ${maxSteal} % steal: run again when the machine is quieter`);
      continue;
    }
    const names = [...new Set(quiet.flatMap((r) => [...r.threads.keys()]))];
    const parts = names
      .map((name) => [name, median(quiet.map((r) => r.threads.get(name)?.user ?? 0)), median(quiet.map((r) => r.threads.get(name)?.kernel ?? 0))] as const)
      .filter(([, u, k]) => u + k >= 0.5)
      .map(([name, u, k]) => `${name} ${u.toFixed(0)}u+${k.toFixed(0)}k`);
    console.log(`${p.name.padEnd(18)} ${median(quiet.map((r) => r.totalUs)).toFixed(0).padStart(5)} us/req (${quiet.length} of ${rounds} rounds)  ${parts.join(', ')}`);
  }
  const paired = pairedRatios(all, proxies.map((p) => p.name), maxSteal);
  if (paired.length === 0) return;
  console.log(`\neach round against ${proxies[0]!.name}'s in the same round (rounds where both were under ${maxSteal} % steal):`);
  for (const p of paired) {
    console.log(`${p.proxy.padEnd(18)} ratio ${p.medianRatio.toFixed(3)} (rounds ${p.ratios.map((x) => x.toFixed(2)).join(' ')}), below in ${p.below} of ${p.ratios.length}`);
  }
}

main();
