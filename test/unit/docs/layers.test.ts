import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../../src/core/package-root.js';
import { check, importGraph, LAYERS } from '../../../scripts/layers.js';

const src = (file: string) => join(PACKAGE_ROOT, 'src', file);

describe('layers (npm run layers)', () => {
  it('no import points up the layer order, and no files import each other in a cycle', () => {
    const { upward, cycles, edges } = check();
    expect(upward).toEqual([]);
    expect(cycles).toEqual([]);
    expect(edges.size).toBeGreaterThan(10);
  });

  it('names every folder of src/ in the order', () => {
    const folders = new Set([...importGraph().keys()].map((f) => f.slice(join(PACKAGE_ROOT, 'src').length + 1).split('/')[0]));
    expect([...folders].sort()).toEqual([...LAYERS].sort());
  });

  it('catches an import that points up, and a cycle', () => {
    const graph = new Map([
      [src('policy/decide.ts'), [src('proxy/gateway.ts')]],
      [src('proxy/gateway.ts'), [src('policy/decide.ts')]],
    ]);
    const r = check(graph);
    expect(r.upward).toEqual(['policy/decide.ts -> proxy/gateway.ts']);
    expect(r.cycles).toHaveLength(1);
  });

  it('is the order the README states', () => {
    const readme = readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(LAYERS.join(' < '));
  });
});
