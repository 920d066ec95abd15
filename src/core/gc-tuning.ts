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
