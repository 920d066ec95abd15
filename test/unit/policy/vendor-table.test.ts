// Every row of the vendor's "User Sync endpoints" table is exactly one documented pack entry, with
// the row's URL and reason verbatim, so the table can be regenerated from the packs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadPacks } from '../../../src/policy/pack.js';
import { vendorRows } from '../../../src/policy/vendor-page.js';

/** The page's rows as packs diff reads them, each under the provider whose pack names its heading. */
function vendorTable(): { provider: string; url: string; reason: string }[] {
  const bySection = new Map(loadPacks().map((p) => [p.section, p.provider]));
  return vendorRows(readFileSync(new URL('../../fixtures/user-sync-endpoints.txt', import.meta.url), 'utf8')).map((r) => {
    expect(bySection.has(r.section), `the heading "${r.section}" is some pack's section`).toBe(true);
    return { provider: bySection.get(r.section)!, url: r.url, reason: r.reason };
  });
}

describe('packs regenerate the vendor table', () => {
  const packs = loadPacks();
  const documented = packs.flatMap((p) => p.endpoints.filter((e) => e.documented).map((e) => ({ provider: p.provider, url: e.urls[0]!, reason: e.reason })));
  const rows = vendorTable();

  it('reads every row of the vendor table', () => {
    const perProvider = Object.fromEntries(packs.map((p) => [p.provider, rows.filter((r) => r.provider === p.provider).length]));
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
