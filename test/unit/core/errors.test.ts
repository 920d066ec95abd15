// The code catalogue in src/core/errors.ts and docs/errors.md list exactly the same codes.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CODES } from '../../../src/core/errors.js';

describe('code catalogue', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const documented = [...doc.matchAll(/^### ([A-Z_]+)$/gm)].map((m) => m[1]);

  it('documents every code, in catalogue order, and no code that does not exist', () => {
    expect(documented).toEqual(Object.keys(CODES));
  });

  it('states the HTTP status of every gateway code in its section', () => {
    for (const [code, entry] of Object.entries(CODES)) {
      if (entry.category === 'config') continue;
      const section = doc.split(`### ${code}\n`)[1]!.split('\n### ')[0]!;
      const status = (entry as { status?: number }).status;
      expect(section, code).toMatch(status === undefined ? /^\s*No HTTP status/ : new RegExp(`^\\s*Status ${status}\\b`));
    }
  });

  it('uses SCREAMING_SNAKE_CASE codes', () => {
    for (const code of Object.keys(CODES)) expect(code).toMatch(/^[A-Z]+(?:_[A-Z]+)*$/);
  });
});
