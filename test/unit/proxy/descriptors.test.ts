import { describe, expect, it } from 'vitest';
import { MAX_LINGERING, openFilesLimit, planDescriptors, RESERVED_DESCRIPTORS } from '../../../src/proxy/descriptors.js';
import { MAX_WARM } from '../../../src/proxy/upstream.js';

/** As Linux 6.1 writes /proc/self/limits (proc(5)). */
const PROC_LIMITS = `Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max file size             unlimited            unlimited            bytes     
Max open files            1024                 524288               files     
Max locked memory         8388608              8388608              bytes     
`;

describe('openFilesLimit', () => {
  it('reads the soft limit, the one accept(2) fails against', () => {
    expect(openFilesLimit(PROC_LIMITS)).toBe(1024);
  });

  it('says nothing for an unlimited or missing entry (not Linux)', () => {
    expect(openFilesLimit(PROC_LIMITS.replace('1024     ', 'unlimited'))).toBeUndefined();
    expect(openFilesLimit('')).toBeUndefined();
  });
});

describe('planDescriptors', () => {
  const fixed = RESERVED_DESCRIPTORS + MAX_WARM;
  /** The schema's defaults. */
  const DEFAULTS = { maxConnections: 1024, maxConnectionsPerClient: 256 };

  it('keeps the configured limits when the open-files limit carries them, or is unknown', () => {
    const needed = fixed + 2 * 1024 + MAX_LINGERING;
    expect(planDescriptors(needed, DEFAULTS)).toEqual({ limits: { ...DEFAULTS, maxLingering: MAX_LINGERING }, note: undefined });
    expect(planDescriptors(65_536, DEFAULTS).note).toBeUndefined();
    expect(planDescriptors(undefined, DEFAULTS).note).toBeUndefined();
  });

  it("under a container's nofile=1024, holds and answers only what fits, and says so with the fix", () => {
    const plan = planDescriptors(1024, DEFAULTS);
    const limits = plan.limits;
    expect(limits.maxConnections).toBe(Math.floor((1024 - fixed) * 0.4));
    // The refusals' reasons name the configured values.
    expect(limits.lowered).toEqual(DEFAULTS);
    // One client keeps a quarter of the smaller table, as of the configured one.
    expect(limits.maxConnectionsPerClient).toBe(Math.floor(limits.maxConnections / 4));
    expect(limits.maxLingering).toBe(1024 - fixed - 2 * limits.maxConnections);
    // Every connection the gateway may hold, with its provider connection, and every answer fit.
    expect(fixed + 2 * limits.maxConnections + limits.maxLingering).toBeLessThanOrEqual(1024);
    expect(plan.note).toContain(`this process may open 1024 files (RLIMIT_NOFILE), and the gateway would need up to ${fixed + 2048 + MAX_LINGERING}`);
    expect(plan.note).toContain(
      `holds at most ${limits.maxConnections} client connections, ${limits.maxConnectionsPerClient} from one client (limits.maxConnections 1024 and limits.maxConnectionsPerClient 256, in the same proportion), and answers at most ${limits.maxLingering} refused connections at once`,
    );
    expect(plan.note).toContain('LimitNOFILE=65536');
  });

  it('lowers only the answers when the configured connections fit', () => {
    const plan = planDescriptors(2048, { maxConnections: 100, maxConnectionsPerClient: 25 });
    expect(plan.limits).toEqual({ maxConnections: 100, maxConnectionsPerClient: 25, maxLingering: 2048 - fixed - 200 });
    expect(plan.note).toContain('so it answers at most');
  });

  it('keeps one connection and no answers when the limit leaves no room', () => {
    expect(planDescriptors(100, DEFAULTS).limits).toEqual({ maxConnections: 1, maxConnectionsPerClient: 1, maxLingering: 0, lowered: DEFAULTS });
  });
});
