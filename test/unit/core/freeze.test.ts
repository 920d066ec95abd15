import { describe, expect, it } from 'vitest';
import { deepFreeze } from '../../../src/core/freeze.js';
import { BOUND_SITE, policyFrom } from '../../support/policy.js';

describe('deepFreeze', () => {
  it('freezes objects, arrays, Maps and Sets all the way down', () => {
    const inner = { n: 1 };
    const v = deepFreeze({ list: [inner], byName: new Map([['a', new Set(['x'])]]) });
    expect(() => ((v as { list: unknown[] }).list as unknown[]).push(2)).toThrow(TypeError);
    expect(() => ((inner as { n: number }).n = 2)).toThrow(TypeError);
    expect(() => (v.byName as Map<string, Set<string>>).set('b', new Set())).toThrow(/cannot set on a frozen Map/);
    expect(() => (v.byName as Map<string, Set<string>>).delete('a')).toThrow(/cannot delete/);
    expect(() => v.byName.get('a')!.add('y')).toThrow(/cannot add on a frozen Set/);
    expect(v.byName.get('a')!.has('x')).toBe(true);
  });

  it('leaves a cycle alone after one visit', () => {
    const a: { self?: unknown } = {};
    a.self = a;
    expect(Object.isFrozen(deepFreeze(a))).toBe(true);
  });

  it('makes the compiled policy read-only, its maps included', () => {
    const policy = policyFrom(BOUND_SITE);
    expect(() => (policy.exact as Map<string, unknown>).set('evil.example', policy.exact.values().next().value)).toThrow(TypeError);
    expect(() => (policy.tokenTenants as Map<string, unknown>).clear()).toThrow(TypeError);
    expect(policy.exact.size).toBeGreaterThan(0);
  });
});
