import { describe, expect, it } from 'vitest';
import { viaProxy, withHarness } from '../../support/gateway.js';
import { TENANT } from '../../support/policy.js';

// The policy side is in test/unit/policy/token-tenant.test.ts; this is the gateway enforcing it.
const jwt = (claims: object) => `Bearer eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;
const OTHER = '99999999-8888-7777-6666-555555555555';
const SITE = `providers:\n  entra-id:\n    tenant: [${TENANT}, contoso.onmicrosoft.com]\n    checkTokenTenant: true\n  okta:\n    domain: acme.okta.com\n`;

describe('checkTokenTenant on the wire', () => {
  it('is enforced by the gateway', async () => {
    await withHarness({ site: SITE }, async (h) => {
      expect((await viaProxy(h, 'https://graph.microsoft.com/v1.0/users', { headers: { authorization: jwt({ tid: TENANT }) } })).status).toBe(200);
      const other = await viaProxy(h, 'https://graph.microsoft.com/v1.0/users', { headers: { authorization: jwt({ tid: OTHER }) } });
      expect([other.status, other.headers['x-idp-egress-code']]).toEqual([403, 'TOKEN_TENANT_MISMATCH']);
    });
  });
});
