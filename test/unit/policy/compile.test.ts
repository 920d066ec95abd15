import { describe, expect, it } from 'vitest';
import { leafNameFor, leafNames } from '../../../src/policy/compile.js';
import { normaliseHost } from '../../../src/core/host.js';
import { BOUND_SITE, judge, policyFrom, TENANT } from '../../support/policy.js';

describe('compiled policy', () => {
  it('is frozen', () => {
    const p = policyFrom(BOUND_SITE);
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.endpoints)).toBe(true);
    expect(Object.isFrozen(p.endpoints[0])).toBe(true);
    expect(Object.isFrozen(p.providers[0])).toBe(true);
    expect(() => (p.endpoints as unknown as unknown[]).push({})).toThrow(TypeError);
  });

  it.each([
    ['usgov', 'login.microsoftonline.us', 'graph.microsoft.us'],
    ['usgov-dod', 'login.microsoftonline.us', 'dod-graph.microsoft.us'],
    ['china', 'login.chinacloudapi.cn', 'microsoftgraph.chinacloudapi.cn'],
  ])('serves the %s national cloud on its own hosts, and not the global ones', (cloud, login, graph) => {
    const p = policyFrom(`providers:\n  entra-id:\n    cloud: ${cloud}\n    tenant: ${TENANT}\n`);
    expect(judge(p, 'POST', `https://${login}/${TENANT}/oauth2/v2.0/token`)).toMatchObject({ action: 'allow', endpoint: 'entra.token' });
    expect(judge(p, 'GET', `https://${graph}/v1.0/users`)).toMatchObject({ action: 'allow', endpoint: 'graph.users.list' });
    expect(judge(p, 'GET', 'https://graph.microsoft.com/v1.0/users')).toMatchObject({ action: 'deny', code: 'HOST_NOT_ALLOWED' });
    expect(p.providers.find((x) => x.provider === 'entra-id')!.hosts).toEqual([login, graph]);
  });

  it('allows several bound Okta orgs and Keycloak base URLs, each on its own host', () => {
    const p = policyFrom(
      'providers:\n  okta:\n    domain: [acme.okta.com, Acme-Test.OktaPreview.com]\n  keycloak:\n    baseUrl: [https://sso.example.org/auth, https://kc2.example.org:8443]\n    realm: staff\n',
    );
    expect(judge(p, 'GET', 'https://acme-test.oktapreview.com/api/v1/users')).toMatchObject({ action: 'allow' });
    expect(judge(p, 'GET', 'https://sso.example.org/auth/admin/realms/staff/users')).toMatchObject({ action: 'allow' });
    expect(judge(p, 'GET', 'https://kc2.example.org:8443/admin/realms/staff/users')).toMatchObject({ action: 'allow' });
    expect(judge(p, 'GET', 'https://kc2.example.org/admin/realms/staff/users')).toMatchObject({ action: 'deny', code: 'PORT_NOT_ALLOWED' });
  });

  it("takes an Okta custom URL domain as the org's host when the site binds it, and never from the unbound wildcard", () => {
    const p = policyFrom('providers:\n  okta:\n    domain: [acme.okta.com, login.acme.example]\n');
    expect(judge(p, 'GET', 'https://login.acme.example/api/v1/users')).toMatchObject({ action: 'allow', endpoint: 'okta.users.list' });
    expect(judge(p, 'GET', 'https://acme.okta.com/api/v1/users')).toMatchObject({ action: 'allow' });
    expect(judge(policyFrom('providers:\n  okta: {}\n'), 'GET', 'https://login.acme.example/api/v1/users')).toMatchObject({ action: 'deny', code: 'HOST_NOT_ALLOWED' });
  });

  it('indexes hosts only in canonical form, which decide() relies on to skip normalising a host it finds', () => {
    for (const site of [BOUND_SITE, 'version: 1\n', 'providers:\n  okta:\n    domain: [Acme.Okta.com., acme-test.oktapreview.com]\n']) {
      const keys = [...policyFrom(site).exact.keys()];
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) expect(normaliseHost(key)).toEqual({ ok: true, host: key });
    }
  });

  it("names each intercepted host's leaf: the host, or the one-label wildcard it is allowed under", () => {
    const p = policyFrom(`providers:\n  entra-id:\n    tenant: ${TENANT}\n  okta: {}\n  onelogin:\n    host: acme.onelogin.com\n    tls: tunnel\n`);
    expect(leafNameFor(p, 'graph.microsoft.com')).toBe('graph.microsoft.com');
    expect(leafNameFor(p, 'acme.okta.com')).toBe('*.okta.com');
    expect(leafNameFor(p, 'a.b.okta.com')).toBe('a.b.okta.com');
    // Tunnelled hosts are never intercepted, so they need no leaf.
    expect(leafNames(p)).toContain('*.okta.com');
    expect(leafNames(p)).toContain('login.microsoftonline.com');
    expect(leafNames(p)).not.toContain('acme.onelogin.com');
  });

  it('renders bound values into the endpoint URLs it lists', () => {
    const p = policyFrom(BOUND_SITE);
    const token = p.endpoints.find((e) => e.id === 'entra.token')!;
    expect(token.urls).toEqual([`https://login.microsoftonline.com/{directoryTenantId=${TENANT}|contoso.onmicrosoft.com}/oauth2/v2.0/token`]);
    const kc = p.endpoints.find((e) => e.id === 'keycloak.users.list')!;
    expect(kc.urls).toEqual(['https://sso.example.org/auth/admin/realms/{realm=staff}/users']);
  });

  it('keeps a provider with enabled: false off, and says so', () => {
    const p = policyFrom('providers:\n  okta:\n    domain: acme.okta.com\n    enabled: false\n');
    expect(p.providers.find((x) => x.provider === 'okta')).toMatchObject({ enabled: false, off: 'enabled: false in the config' });
    expect(judge(p, 'GET', 'https://acme.okta.com/api/v1/users')).toMatchObject({ code: 'HOST_NOT_ALLOWED', reason: 'acme.okta.com: Okta is off: enabled: false in the config' });
  });

  it('warns about every binding a site leaves open, and about tunnel mode', () => {
    const open = policyFrom('version: 1\n').warnings;
    expect(open).toHaveLength(4);
    expect(open[0]).toBe(
      "Microsoft Entra ID (Microsoft Graph): tenant not pinned (providers.entra-id.tenant): any tenant's token endpoint is allowed; set the directory (tenant) ID",
    );
    expect(policyFrom(BOUND_SITE).warnings).toEqual([]);
    expect(policyFrom('providers:\n  okta:\n    domain: acme.okta.com\n    tls: tunnel\n').warnings).toEqual([
      'Okta: tls: tunnel, so only hosts are checked; paths, methods and tenants are not',
    ]);
  });
});
