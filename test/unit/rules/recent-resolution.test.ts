import { describe, expect, it } from 'vitest';
import { RecentResolution, type ResolvedAddresses } from '../../../src/rules/resolve.js';

const EMPTY: ResolvedAddresses = { v4: new Map(), v6: new Map(), failed: new Map() };

describe('RecentResolution', () => {
  it('shares one resolution for the same policy within the window, and resolves again after it', async () => {
    let now = 1_000;
    let calls = 0;
    const recent = new RecentResolution(10_000, () => now);
    const policy = {};
    const resolve = async () => (calls++, EMPTY);
    await Promise.all([recent.get(policy, resolve), recent.get(policy, resolve)]);
    now += 9_999;
    await recent.get(policy, resolve);
    expect(calls).toBe(1);
    now += 1;
    await recent.get(policy, resolve);
    expect(calls).toBe(2);
  });

  it('resolves again for another policy (a reload), and after a resolution that failed', async () => {
    let calls = 0;
    const recent = new RecentResolution(10_000);
    await recent.get({}, async () => (calls++, EMPTY));
    await recent.get({}, async () => (calls++, EMPTY));
    expect(calls).toBe(2);
    const policy = {};
    await expect(recent.get(policy, async () => Promise.reject(new Error('no DNS')))).rejects.toThrow('no DNS');
    await recent.get(policy, async () => (calls++, EMPTY));
    expect(calls).toBe(3);
  });
});
