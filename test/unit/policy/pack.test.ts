import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENTRA_CLOUDS, providersSchema, PROVIDER_NAMES } from '../../../src/config/schema.js';
import { loadPacks, parsePack } from '../../../src/policy/pack.js';
import { SHIPPED_PACKS_DIR } from '../../../src/core/package-root.js';
import { problemsOf } from '../../support/problems.js';

const packProblems = (yaml: string) => problemsOf(() => parsePack('bad.yaml', yaml));

const MINIMAL = `provider: okta
title: Okta
source: vendor page
variables:
  oktaDomain: { type: host, site: domain, description: org host }
endpoints:
  - id: okta.users.list
    kind: api
    methods: [GET]
    urls: ['https://{oktaDomain}/api/v1/users']
    reason: Fetching information for all users
    documented: true
section: Okta
`;

describe('shipped packs', () => {
  const packs = loadPacks();

  it('are one per provider of the config schema', () => {
    expect(packs.map((p) => p.provider).sort()).toEqual([...PROVIDER_NAMES].sort());
  });

  it('bind variables only from keys the config schema has for that provider', () => {
    for (const pack of packs) {
      const keys = Object.keys(providersSchema.shape[pack.provider as (typeof PROVIDER_NAMES)[number]].unwrap().shape);
      for (const [name, v] of Object.entries(pack.variables)) {
        if (v.site) expect(keys, `${pack.provider}.${name} binds from ${v.site}`).toContain(v.site);
      }
      if (pack.clouds) expect(keys).toContain(pack.clouds.site);
    }
  });

  it('define a host map for exactly the clouds the config accepts', () => {
    const entra = packs.find((p) => p.provider === 'entra-id')!;
    expect(Object.keys(entra.clouds!.hosts).sort()).toEqual([...ENTRA_CLOUDS].sort());
  });

  it('use no open-ended wildcard host patterns', () => {
    for (const pack of packs) {
      for (const v of Object.values(pack.variables)) {
        for (const pattern of v.unbound ?? []) expect(pattern).toMatch(/^(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)+$/);
      }
    }
  });
});

describe('pack validation', () => {
  it('accepts a minimal pack', () => {
    expect(parsePack('ok.yaml', MINIMAL).endpoints).toHaveLength(1);
  });

  it.each([
    ['an undeclared template variable', MINIMAL.replace('/api/v1/users', '/api/{version}/users'), 'bad.yaml:1:1 endpoint okta.users.list: https://{oktaDomain}/api/{version}/users uses {version}, which the pack does not declare [PACK_INVALID]'],
    ['a documented entry without documented or variant', MINIMAL.replace('    documented: true\n', ''), 'bad.yaml:7:5 endpoints[0]: an endpoint is either documented: true (a vendor table row) or has a variant: note saying where it comes from [PACK_INVALID]'],
    ['a wildcard in a path', MINIMAL.replace('/api/v1/users', '/api/*/users'), 'bad.yaml:1:1 endpoint okta.users.list: https://{oktaDomain}/api/*/users: segment "*" must be a literal or a whole {variable} [PACK_INVALID]'],
    ['a method a sync never needs', MINIMAL.replace('[GET]', '[DELETE]'), 'bad.yaml:9:15 endpoints[0].methods[0]: expected one of "GET", "POST", found "DELETE" [PACK_INVALID]'],
    ['a trailing slash', MINIMAL.replace('/api/v1/users', '/api/v1/users/'), 'bad.yaml:1:1 endpoint okta.users.list: https://{oktaDomain}/api/v1/users/: expected https://host/segment[/segment...] with no query, empty segment or trailing "/" [PACK_INVALID]'],
    ['a host variable in the path', MINIMAL.replace('/api/v1/users', '/api/{oktaDomain}'), 'bad.yaml:1:1 endpoint okta.users.list: {oktaDomain} is a host variable and cannot stand in the path [PACK_INVALID]'],
    ['an unknown key', MINIMAL.replace('    kind: api\n', '    kind: api\n    methds: [GET]\n'), 'bad.yaml:9:5 endpoints[0].methds: unknown key "methds" [PACK_INVALID]\n    fix: did you mean "methods"?'],
    ['a credential marked safe to log', `${MINIMAL}logQuery: [limit, Access_Token]\n`, 'bad.yaml:14:19 logQuery[1]: carries credentials or personal data, so its value is never logged; remove it from logQuery [PACK_INVALID]'],
  ])('refuses %s', (_name, yaml, expected) => {
    expect(packProblems(yaml)).toContain(expected);
  });

  it('refuses a pack whose provider does not match its file name, and an id used by two packs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'packs-'));
    writeFileSync(join(dir, 'okta.yaml'), MINIMAL);
    writeFileSync(join(dir, 'other.yaml'), MINIMAL.replace('provider: okta', 'provider: other'));
    writeFileSync(join(dir, 'google.yaml'), readFileSync(join(SHIPPED_PACKS_DIR, 'google.yaml'), 'utf8'));
    expect(() => loadPacks(dir)).toThrow(/other\.yaml:1:1 endpoints: endpoint id okta\.users\.list is also used by the okta pack/);
  });
});
