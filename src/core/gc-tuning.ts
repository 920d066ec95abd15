import { setFlagsFromString } from 'node:v8';

/**
 * The V8 flag that counts memory outside the heap (the ArrayBuffers Node reads sockets into)
 * against the heap's own growing limit, instead of V8's fixed trigger of a full mark-compact
 * for every 64 MB of it. A gateway that reads a provider's 20 KB page in a few such buffers hit
 * that trigger several times a second under load, however little the heap held.
 */
const FLAG = '--external-memory-accounted-in-global-limit';

/** V8 13.6 (Node 24) has the flag; V8 12.4 (Node 22) does not, and would print an error for it. */
function hasFlag(v8Version: string): boolean {
  const [major = 0, minor = 0] = v8Version.split('.').map(Number);
  return major > 13 || (major === 13 && minor >= 6);
}

/**
 * Sets the flag at start, before any traffic: V8 reads it each time it decides on a GC, so it
 * takes effect (test/socket/proxy/gc-tuning.test.ts counts the mark-compacts with and without).
 * Returns whether it was set.
 */
export function tuneGarbageCollector(v8Version = process.versions.v8): boolean {
  if (!hasFlag(v8Version)) return false;
  setFlagsFromString(FLAG);
  return true;
}

/**
 * The V8 options every shipped start passes to node: `npm start`, the Dockerfile's ENTRYPOINT and
 * the systemd unit (test/unit/core/gc-tuning.test.ts holds them to this list). V8 sizes the young
 * generation once, when it makes the heap, so unlike FLAG these cannot be set from inside.
 *
 * `--max-semi-space-size=32 --min-semi-space-size=32`: the young generation fixed at 32 MB.
 * A scavenge's pause is nearly the same whatever the size (0.29, 0.32 and 0.33 ms median at 8, 16
 * and 32 MB on the 20 KB page at concurrency 1: little survives, src/proxy/upstream-deadlines.ts),
 * so a larger young generation is fewer pauses: 194, 97 and 50 in 60,000 requests. A request that
 * meets one waits for it, and at 8 MB that was enough of them to put the gateway's p99 on the
 * page above Squid's: with a fresh client a round, as the harness's grid runs every cell, 0.64,
 * 0.50 and 0.68 ms at 8, 0.55, 0.41 and 0.49 at 16, 0.45, 0.37 and 0.38 at 32, Squid ssl_bump
 * 0.45, 0.39 and 0.41 (three runs of 10 alternating rounds; docs/performance.md, session 37). CPU
 * a request level (0.98 of 8's on the page at 1, 1.01 at 16). Fixed, not left to V8: it starts
 * the young generation at 1 MB and grows it only as what survives its scavenges adds up, which
 * for the gateway is little, so it would scavenge far more often; and with no maximum it grows to
 * 32-64 MB and, before the old generation's floor below, marked the whole heap without pause
 * (`Heap::IncrementalMarkingLimitReached` starts marking once the old generation's room is no more
 * than the young generation's capacity, since one scavenge could promote it all). The cost is
 * memory: V8 commits the young generation's pages as they are first used, so an idle gateway is
 * as before, and under load ~55 MB more stays resident than at 8 (218 against 163 MB after the
 * same rounds).
 *
 * `--initial-old-space-size=64`: after each mark-compact V8 sets the old generation's limit a
 * little above what survived, and starts marking again once the room left is no more than the
 * young generation (above). The gateway's live heap is ~25 MB and its limit was ~41 MB, so on a
 * 20 KB page at concurrency 1 it still ran a mark-compact every 1-2 s, and the Node floor, with
 * 11 MB live and a 27 MB limit, five a second (`--trace-incremental-marking`). An initial size
 * given to V8 is also the lowest its limit may fall to (V8's `Heap::ConfigureHeap`: "allow V8 to
 * skip full GCs below that threshold"), so with 64 MB the same load ran none. Two gateway
 * processes with it against two without, 4-6 alternating rounds: 305 and 317 µs a request
 * against 348 and 357 on the page at concurrency 1, 216 and 225 against 239 and 243 on the
 * 1 KB call, 214 and 221 against 248 and 251 on the page at 16, 134 and 139 against 148 and 153
 * on the 1 KB call at 16 (docs/performance.md, session 27). Resident memory after those rounds
 * was 174 and 176 MB against 151 and 160 in one harness, 145 and 146 against 152 and 144 in
 * another (with 8 MB semi-spaces): garbage waits in the old generation until marking starts, when
 * the room left is no more than the young generation's capacity. With 32 MB semi-spaces that is
 * at ~32 MB: on the 20 KB page at concurrency 1 (`--trace-gc`) the first mark-compact comes
 * after a few minutes, and after it the old generation grows by what a scavenge promotes, ~5 KB,
 * so the next is ~1,300 scavenges (minutes) away. They came every 6.5-10 s after the first while
 * the connection table and the provider shares each emptied a long-lived Set or Map at every
 * request: V8 rebuilds such a table in the generation the old one lives in, so once a full
 * collection had moved them there, ~350 KB of old garbage a scavenge (connections.ts,
 * upstream-shares.ts; docs/performance.md, session 38).
 *
 * node takes neither `--min-semi-space-size` nor `--initial-old-space-size` from NODE_OPTIONS
 * ("not allowed in NODE_OPTIONS"), so these go on node's command line.
 */
export const GATEWAY_NODE_OPTIONS = ['--max-semi-space-size=32', '--min-semi-space-size=32', '--initial-old-space-size=64'] as const;

/** V8 reads `--max_semi_space_size` and `--max-semi-space-size` alike. */
function optionName(arg: string): string {
  return arg.split('=')[0]!.replaceAll('_', '-');
}

/**
 * The GATEWAY_NODE_OPTIONS this process was started without, by name: one given with another
 * value (on the command line or in NODE_OPTIONS) is the operator's choice and counts as given.
 */
export function missingNodeOptions(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] {
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)].map(optionName));
  return GATEWAY_NODE_OPTIONS.filter((option) => !given.has(optionName(option)));
}
