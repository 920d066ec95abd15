import { describe, expect, it } from 'vitest';
import { tokenTenantDenial } from '../../../src/policy/token-tenant.js';
import { judge, policyFrom, TENANT } from '../../support/policy.js';

const jwt = (claims: object) => `Bearer eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;
const OTHER = '99999999-8888-7777-6666-555555555555';
const SITE = `providers:\n  entra-id:\n    tenant: [${TENANT}, contoso.onmicrosoft.com]\n    checkTokenTenant: true\n  okta:\n    domain: acme.okta.com\n`;

describe('checkTokenTenant', () => {
  const policy = policyFrom(SITE);
  const graph = judge(policy, 'GET', 'https://graph.microsoft.com/v1.0/users');

  it('lets a Graph call with a token from the pinned tenant through', () => {
    expect(tokenTenantDenial(policy, graph, jwt({ tid: TENANT.toUpperCase(), aud: 'https://graph.microsoft.com' }))).toBeUndefined();
  });

  it('denies a token from another tenant, naming both', () => {
    expect(tokenTenantDenial(policy, graph, jwt({ tid: OTHER }))).toMatchObject({
      action: 'deny',
      code: 'TOKEN_TENANT_MISMATCH',
      endpoint: 'graph.users.list',
      reason: `the bearer token was issued by tenant ${OTHER}, not ${TENANT}`,
    });
  });

  it('denies a call whose token cannot be read', () => {
    for (const header of [undefined, 'Bearer opaque-token', jwt({ sub: 'x' }), 'Bearer a.!!!.c', `SSWS ${'x'}`]) {
      expect(tokenTenantDenial(policy, graph, header)?.code, String(header)).toBe('TOKEN_TENANT_MISMATCH');
    }
  });

  it('leaves token calls, other providers and sites without the check alone', () => {
    const token = judge(policy, 'POST', `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`);
    expect(tokenTenantDenial(policy, token, undefined)).toBeUndefined();
    expect(tokenTenantDenial(policy, judge(policy, 'GET', 'https://acme.okta.com/api/v1/users'), undefined)).toBeUndefined();
    const unchecked = policyFrom(`providers:\n  entra-id:\n    tenant: ${TENANT}\n`);
    expect(tokenTenantDenial(unchecked, judge(unchecked, 'GET', 'https://graph.microsoft.com/v1.0/users'), jwt({ tid: OTHER }))).toBeUndefined();
  });
});
