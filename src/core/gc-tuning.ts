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
 * `--max-semi-space-size=8`: under load V8 grows the young generation to 32-64 MB, and it starts
 * marking the whole heap as soon as the old generation's room left is no more than that, since
 * one scavenge could promote it all (`Heap::IncrementalMarkingLimitReached`). The gateway's live
 * heap is ~23 MB, its room ~40 MB, so it marked without pause: on a 20 KB page at concurrency 1
 * a mark-compact every 0.1-0.4 s (`--trace-incremental-marking`), V8's workers 34-60 µs of CPU a
 * request. At 8 MB: 6-15 µs, and 195-253 against 235-325 µs a request in five alternating rounds
 * (docs/performance.md); the 1 KB call, and concurrency 16 and 64, moved within the noise.
 * Its scavenges stay short because so little survives them (src/proxy/upstream-deadlines.ts).
 *
 * `--min-semi-space-size=8`: V8 starts the young generation at 1 MB and grows it only as what
 * survives its scavenges adds up. A scavenge's pause grows with what survives it, in session 23
 * mostly the outcomes waiting for their batch (src/audit/outcome-id.ts); with less of that, V8
 * kept the young generation at 4 MB under load and scavenged 1.6 times as often, so the p99 at
 * concurrency 1 did not move. Fixed at 8 MB it did: the harness's 1 KB call at concurrency 1, 28
 * alternating rounds, lower in 23 (pooled p99 0.58 against 0.68 ms), CPU a request level
 * (docs/performance.md, session 23). That was before outcomes were recorded a turn after they end
 * (session 24), which has not been measured without this option. V8 commits the pages as they are
 * first used, so an idle gateway's memory is as before.
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
 * another: garbage waits in the old generation until marking starts, at ~48 MB (the limit less
 * the young generation's 16), and a scavenge still runs every 8 MB allocated.
 *
 * node takes neither `--min-semi-space-size` nor `--initial-old-space-size` from NODE_OPTIONS
 * ("not allowed in NODE_OPTIONS"), so these go on node's command line.
 */
export const GATEWAY_NODE_OPTIONS = ['--max-semi-space-size=8', '--min-semi-space-size=8', '--initial-old-space-size=64'] as const;

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
