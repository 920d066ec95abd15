import type { Policy } from './model.js';
import type { Decision } from './decide.js';

/**
 * The tenant check for API calls (providers.entra-id.checkTokenTenant). A Graph access token is a
 * JWT whose `tid` claim names the issuing tenant; the gateway decodes it without verifying it
 * (Graph verifies it) and only asks where it is from. Returns the denial, or undefined.
 */
export function tokenTenantDenial(policy: Policy, decision: Decision, authorization: string | undefined): Decision | undefined {
  if (decision.action !== 'allow' || decision.kind !== 'api' || !decision.provider) return undefined;
  const tenants = policy.tokenTenants.get(decision.provider);
  if (!tenants) return undefined;
  const tid = tenantOf(authorization);
  if (tid !== undefined && tenants.has(tid.toLowerCase())) return undefined;
  const reason =
    tid === undefined
      ? 'checkTokenTenant is on and the call carries no bearer JWT whose tenant (tid) can be read'
      : `the bearer token was issued by tenant ${tid}, not ${[...tenants].join(' or ')}`;
  return { ...decision, action: 'deny', code: 'TOKEN_TENANT_MISMATCH', reason };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function tenantOf(authorization: string | undefined): string | undefined {
  const m = /^bearer\s+([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*$/i.exec(authorization ?? '');
  if (!m) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(m[2]!, 'base64url').toString('utf8')) as { tid?: unknown };
    return typeof claims.tid === 'string' && GUID.test(claims.tid) ? claims.tid : undefined;
  } catch {
    return undefined;
  }
}
