// docs/config.md documents every key of the site config schema, and names no key that is gone.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { keysAt } from '../../../src/core/located-yaml.js';
import { PROVIDER_NAMES, siteConfigSchema } from '../../../src/config/schema.js';

/** Every key path of the schema; `leaves` keeps only keys that hold values, not groups. */
function keyPaths(leaves: boolean, path: string[] = []): string[] {
  return keysAt(siteConfigSchema, path).flatMap((key) => {
    const child = [...path, key];
    const below = keyPaths(leaves, child);
    return below.length > 0 && leaves ? below : [child.join('.'), ...below];
  });
}

const COMMON = ['enabled', 'mode', 'tls', 'endpoints'];

describe('docs/config.md', () => {
  const doc = readFileSync(new URL('../../../docs/config.md', import.meta.url), 'utf8');
  const documented = new Set([...doc.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!));

  it('documents every key of the schema', () => {
    const expected = keyPaths(true).map((p) => {
      const [top, provider, key] = p.split('.');
      return top === 'providers' && provider && COMMON.includes(key!) ? `providers.<name>.${key}` : p;
    });
    expect([...new Set(expected)].filter((k) => !documented.has(k))).toEqual([]);
  });

  it('documents no key the schema does not have', () => {
    const real = new Set(keyPaths(false));
    const stale = [...documented].filter((k) => !real.has(k) && !(k.startsWith('providers.<name>.') && PROVIDER_NAMES.every((n) => real.has(k.replace('<name>', n)))));
    expect(stale).toEqual([]);
  });
});
