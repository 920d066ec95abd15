// Every row of the vendor's "User Sync endpoints" table is exactly one documented pack entry, with
// the row's URL and reason verbatim, so the table can be regenerated from the packs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadPacks } from '../../../src/policy/pack.js';

const HEADINGS: Record<string, string> = {
  'Microsoft Entra ID': 'entra-id',
  'Google Cloud Identity': 'google',
  Keycloak: 'keycloak',
  Okta: 'okta',
  OneLogin: 'onelogin',
};

function vendorRows(): { provider: string; url: string; reason: string }[] {
  const lines = readFileSync(new URL('../../fixtures/user-sync-endpoints.txt', import.meta.url), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const rows: { provider: string; url: string; reason: string }[] = [];
  let provider: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (HEADINGS[line]) provider = HEADINGS[line];
    else if (line.startsWith('https://')) {
      expect(provider, `row ${line} comes before any provider heading`).toBeDefined();
      rows.push({ provider: provider!, url: line, reason: lines[++i]! });
    }
  }
  return rows;
}

describe('packs regenerate the vendor table', () => {
  const packs = loadPacks();
  const documented = packs.flatMap((p) => p.endpoints.filter((e) => e.documented).map((e) => ({ provider: p.provider, url: e.urls[0]!, reason: e.reason })));
  const rows = vendorRows();

  it('reads every row of the vendor table', () => {
    const perProvider = Object.fromEntries(Object.values(HEADINGS).map((p) => [p, rows.filter((r) => r.provider === p).length]));
    expect(perProvider).toEqual({ 'entra-id': 10, google: 6, keycloak: 6, okta: 5, onelogin: 6 });
  });

  it('has one documented entry per row, URL and reason verbatim, in the same order', () => {
    expect(documented).toEqual(rows);
  });

  it('marks every entry that is not a vendor row as a variant with its source', () => {
    for (const p of packs) {
      for (const e of p.endpoints.filter((x) => !x.documented)) {
        expect(e.variant?.length ?? 0, `${e.id} says where it comes from`).toBeGreaterThan(20);
      }
    }
  });

  it('allows only GET for API reads and POST only on token endpoints', () => {
    for (const p of packs) {
      for (const e of p.endpoints) {
        if (e.kind === 'token') expect(e.methods, e.id).toEqual(['POST']);
        else expect(e.methods, e.id).toEqual(['GET']);
      }
    }
  });
});
