// The flattened trie (path-table.ts) is what decide() walks; these cases pin the matching rules
// that its index arithmetic must keep, on a pack built to exercise each one.
import { describe, expect, it } from 'vitest';
import { parseSiteConfig } from '../../../src/config/load.js';
import { compilePolicy, routesOf } from '../../../src/policy/compile.js';
import type { Pack } from '../../../src/policy/pack.js';
import { judge } from '../../support/policy.js';

const MANY = Array.from({ length: 12 }, (_, i) => `res${i}`);

const pack: Pack = {
  provider: 'keycloak',
  title: 'Trie shapes',
  source: 'test',
  section: 'Keycloak',
  logQuery: [],
  variables: {
    baseUrl: { type: 'base-url', site: 'baseUrl', description: 'base' },
    id: { type: 'segment', description: 'any id' },
    version: { type: 'enum', values: ['v1', 'v2'], description: 'version' },
  },
  endpoints: [
    { id: 't.literal-then-more', kind: 'api', methods: ['GET'], urls: ['https://{baseUrl}/a/b/d'], reason: 'literal b', variant: 'test' },
    { id: 't.variable', kind: 'api', methods: ['GET'], urls: ['https://{baseUrl}/a/{id}/c'], reason: 'variable', variant: 'test' },
    { id: 't.read', kind: 'api', methods: ['GET'], urls: ['https://{baseUrl}/same'], reason: 'read', variant: 'test' },
    { id: 't.token', kind: 'token', methods: ['POST'], urls: ['https://{baseUrl}/same'], reason: 'token', variant: 'test' },
    ...MANY.map((r, i) => ({ id: `t.many${i}`, kind: 'api' as const, methods: ['GET' as const], urls: [`https://{baseUrl}/{version}/${r}/{id}`], reason: r, variant: 'test' })),
  ],
};

const policy = compilePolicy(
  [pack],
  parseSiteConfig('test.yaml', 'providers:\n  keycloak:\n    baseUrl: [https://kc.example.org, https://kc.example.org:8443/auth]\n    realm: staff\n'),
);
const KC = 'https://kc.example.org';

describe('path matching on the flattened trie', () => {
  it('falls back from a literal child that leads nowhere to a variable child', () => {
    expect(judge(policy, 'GET', `${KC}/a/b/d`)).toMatchObject({ action: 'allow', endpoint: 't.literal-then-more' });
    expect(judge(policy, 'GET', `${KC}/a/b/c`)).toMatchObject({ action: 'allow', endpoint: 't.variable' });
    expect(judge(policy, 'GET', `${KC}/a/x/c`)).toMatchObject({ action: 'allow', endpoint: 't.variable' });
    expect(judge(policy, 'GET', `${KC}/a/b`)).toMatchObject({ action: 'deny', code: 'PATH_NOT_ALLOWED' });
  });

  it('finds every one of many literal children, and refuses a near miss', () => {
    for (const [i, r] of MANY.entries()) {
      expect(judge(policy, 'GET', `${KC}/v2/${r}/u1`)).toMatchObject({ action: 'allow', endpoint: `t.many${i}` });
    }
    expect(judge(policy, 'GET', `${KC}/v2/res12/u1`)).toMatchObject({ action: 'deny', code: 'PATH_NOT_ALLOWED' });
    expect(judge(policy, 'GET', `${KC}/v3/res1/u1`)).toMatchObject({ action: 'deny', code: 'PATH_NOT_ALLOWED' });
  });

  it('chooses among endpoints on one path by method, and names the first when none allows it', () => {
    expect(judge(policy, 'GET', `${KC}/same`)).toMatchObject({ action: 'allow', endpoint: 't.read' });
    expect(judge(policy, 'POST', `${KC}/same`)).toMatchObject({ action: 'allow', endpoint: 't.token', kind: 'token' });
    expect(judge(policy, 'PUT', `${KC}/same`)).toMatchObject({ action: 'deny', code: 'METHOD_NOT_ALLOWED', endpoint: 't.read' });
  });

  it('keeps one trie per port of a host, each with its own prefix', () => {
    expect(judge(policy, 'GET', `${KC}:8443/auth/same`)).toMatchObject({ action: 'allow', port: 8443 });
    expect(judge(policy, 'GET', `${KC}:8443/same`)).toMatchObject({ action: 'deny', code: 'PATH_NOT_ALLOWED' });
    expect(judge(policy, 'GET', `${KC}/auth/same`)).toMatchObject({ action: 'deny', code: 'PATH_NOT_ALLOWED' });
    expect(judge(policy, 'GET', `${KC}:9443/same`)).toMatchObject({ action: 'deny', code: 'PORT_NOT_ALLOWED', reason: 'kc.example.org is allowed on port 443, 8443, not 9443' });
    expect(routesOf(policy).map((r) => `${r.pattern}:${r.port}`)).toEqual(['kc.example.org:443', 'kc.example.org:8443']);
  });
});
