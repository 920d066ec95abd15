import { MAX_WARM } from './upstream.js';

/**
 * At most this many refused connections wait out their linger at once (connections.ts); past
 * it, a refused connection is destroyed without an answer, so a flood of refusals cannot hold
 * descriptors.
 */
export const MAX_LINGERING = 4_096;

/**
 * Descriptors the process keeps for itself, beyond client and provider connections: the
 * listeners, the audit file, the syslog connection, libuv's epoll, signal and event descriptors,
 * the admin listener's clients (at most 64: src/admin/server.ts), and the files a reload reads.
 */
export const RESERVED_DESCRIPTORS = 128;

/**
 * When the open-files limit is too low for limits.maxConnections: the number of client
 * connections held, as a share of the descriptors left after the gateway's own. Each needs two
 * (the client's, and the provider's in a spliced tunnel), so held connections may use four
 * fifths of them, and a fifth is left for refused connections' answers.
 */
const HELD_SHARE = 0.4;

/** The two limits of limits.* that the open-files limit may lower. */
interface HeldLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
}

/** How many connections the gateway holds and answers at once, given what the process may open. */
export interface DescriptorPlan {
  /** The connection table's limits (connections.ts ConnectionLimits). */
  readonly limits: HeldLimits & {
    /** Refused connections being answered at once (MAX_LINGERING, or fewer). */
    readonly maxLingering: number;
    /** The configured limits, when these are lower: for the refusals' reasons. */
    readonly lowered?: HeldLimits;
  };
  /** Said at start when the limit lowers any of them, with what would raise it; else undefined. */
  readonly note: string | undefined;
}

/**
 * The soft "Max open files" of a /proc/<pid>/limits text (Linux, proc(5)): the RLIMIT_NOFILE that
 * accept(2) and socket(2) fail against with EMFILE. Undefined when absent or unlimited.
 */
export function openFilesLimit(procLimits: string): number | undefined {
  const soft = /^Max open files\s+(\S+)/m.exec(procLimits)?.[1];
  return soft === undefined || !/^\d+$/.test(soft) ? undefined : Number(soft);
}

/**
 * What the process's open-files limit allows. Node raises the soft limit to the hard one at
 * start, so `limit` is the ceiling. Past it, libuv's accept loop takes each new connection and
 * closes it at once (its EMFILE fallback) before the gateway sees it: that client is reset with
 * no answer and no audit line. Under a container's common `nofile=1024`, one client opening a
 * few thousand connections a second, each refused for its address's limit and answered while
 * lingering, took every descriptor that way and locked every other client out. Kept within the
 * limit, the table and the lingering answers never reach it.
 */
export function planDescriptors(limit: number | undefined, configured: HeldLimits): DescriptorPlan {
  const fixed = RESERVED_DESCRIPTORS + MAX_WARM;
  const needed = fixed + 2 * configured.maxConnections + MAX_LINGERING;
  const { maxConnections: configuredMax, maxConnectionsPerClient: configuredPerClient } = configured;
  if (limit === undefined || limit >= needed) {
    return { limits: { maxConnections: configuredMax, maxConnectionsPerClient: configuredPerClient, maxLingering: MAX_LINGERING }, note: undefined };
  }
  const room = Math.max(0, limit - fixed);
  const maxConnections = Math.max(1, Math.min(configuredMax, Math.floor(room * HELD_SHARE)));
  // One client keeps the share of the table the configuration gave it (a quarter by default),
  // not most of a smaller table.
  const maxConnectionsPerClient = Math.max(1, Math.min(configuredPerClient, Math.floor((configuredPerClient * maxConnections) / configuredMax)));
  const maxLingering = Math.max(0, Math.min(MAX_LINGERING, room - 2 * maxConnections));
  const held = maxConnections < configuredMax;
  const says = held
    ? `holds at most ${maxConnections} client connections, ${maxConnectionsPerClient} from one client (limits.maxConnections ${configuredMax} and limits.maxConnectionsPerClient ${configuredPerClient}, in the same proportion), and answers`
    : 'answers';
  return {
    limits: { maxConnections, maxConnectionsPerClient, maxLingering, ...(held ? { lowered: configured } : {}) },
    note:
      `this process may open ${limit} files (RLIMIT_NOFILE), and the gateway would need up to ${needed} ` +
      `(${configuredMax} client connections and a provider connection for each, ${MAX_LINGERING} refused connections being answered, ${fixed} of its own); ` +
      `so it ${says} at most ${maxLingering} refused connections at once, closing the rest unanswered, so that a flood cannot take the descriptors every client needs. ` +
      `Raise the limit (systemd: LimitNOFILE=65536; docker run --ulimit nofile=65536; a shell: ulimit -n 65536) or lower limits.maxConnections`,
  };
}
