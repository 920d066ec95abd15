// The dashboard's state is bounded whatever the traffic, counts calls (not the CONNECTs that carry
// them), and says what would allow each denial; its access rule asks for the token off loopback.
import { describe, expect, it } from 'vitest';
import { dashboardAccess } from '../../../src/admin/server.js';
import { DASHBOARD_LIMITS, DashboardState } from '../../../src/admin/dashboard-state.js';
import type { Outcome } from '../../../src/audit/outcome.js';
import { parseSiteConfig } from '../../../src/config/load.js';
import { siteConfigSchema } from '../../../src/config/schema.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import { judge as judgeRequest } from '../../../src/policy/judge.js';
import { loadPacks } from '../../../src/policy/pack.js';
import { BOUND_SITE } from '../../support/policy.js';

const packs = loadPacks();
const config = parseSiteConfig('site.yaml', BOUND_SITE);
const loaded = { policy: compilePolicy(packs, config), packs, config: { config, file: undefined, baseDir: '/' } };
const reference = compilePolicy(packs, siteConfigSchema.parse({}));

let clock = Date.parse('2026-12-03T08:00:00Z');
function state(): DashboardState {
  return new DashboardState({ loaded: () => loaded, reference: () => reference, caNotAfter: 2_000_000_000, leafCache: () => 3, unwritableAudit: () => [], heldConnections: () => 2, connectionLimits: { limit: 332, configured: 1024, openFilesLimit: 1024 }, now: () => clock });
}

/** An outcome as the gateway publishes it, judged by the same policy. */
function outcome(method: string, url: string, extra: Partial<Outcome> = {}): Outcome {
  const decision = judgeRequest(loaded.policy, { form: 'absolute', method, url }).decision;
  return {
    id: 'x',
    kind: 'request',
    client: '10.20.0.15',
    method,
    url,
    code: decision.code,
    decision,
    enforced: decision.action === 'deny',
    status: decision.action === 'deny' ? 403 : 200,
    tls: 'intercept',
    reason: decision.reason,
    durationMs: 1,
    time: clock,
    ...extra,
  };
}

describe('dashboard state', () => {
  it('counts calls per minute and per provider, and lists what would allow each denial', () => {
    const s = state();
    s.recordAll([outcome('GET', 'https://graph.microsoft.com/v1.0/users'), outcome('GET', 'https://graph.microsoft.com/v1.0/users/u1/drive')]);
    // An allowed CONNECT is not a call: the requests inside it are.
    s.recordAll([{ ...outcome('GET', 'https://graph.microsoft.com/v1.0/users'), kind: 'connect', method: 'CONNECT', url: 'graph.microsoft.com:443' }]);
    s.recordAll([outcome('GET', 'https://graph.microsoft.com/v1.0/users', { code: 'UPSTREAM_TIMEOUT', status: 504, reason: 'no response headers within 30000 ms' })]);
    const snap = s.snapshot();
    expect(snap.totals).toEqual({ allowed: 1, denied: 1, wouldDeny: 0, failed: 1 });
    expect(snap.series.allowed.at(-1)).toBe(1);
    expect(snap.series.denied.at(-1)).toBe(1);
    expect(snap.denials[0]).toMatchObject({ code: 'PATH_NOT_ALLOWED', host: 'graph.microsoft.com', shape: '/v1.0/users/{userid}/drive', allowWith: expect.stringContaining('a site endpoint under entra-id') });
    expect(snap.upstreamFailures).toMatchObject([{ provider: 'entra-id', code: 'UPSTREAM_TIMEOUT', count: 1 }]);
    expect(snap.providers.find((p) => p.provider === 'entra-id')).toMatchObject({ lastAllowed: clock, lastFailure: { code: 'UPSTREAM_TIMEOUT' } });
    expect(snap.endpoints.used).toMatchObject([{ provider: 'entra-id', id: 'graph.users.list', calls: 1 }]);
    expect(snap.endpoints.unused.some((e) => e.id === 'graph.users.list')).toBe(false);
    // Its facts about the gateway: the connections held, and the limit the open-files limit lowered.
    expect(snap.connections).toEqual({ held: 2, limit: 332, configured: 1024, openFilesLimit: 1024 });
  });

  it('marks a site endpoint with where the config defines it, used or not', () => {
    const site = `${BOUND_SITE.replace('  okta:\n    domain: acme.okta.com\n', '  okta:\n    domain: acme.okta.com\n    endpoints:\n      - id: site.okta.logs\n        methods: [GET]\n        urls: https://{oktaDomain}/api/v1/logs\n        reason: r\n      - id: site.okta.apps\n        methods: [GET]\n        urls: https://{oktaDomain}/api/v1/apps\n        reason: r\n')}`;
    const siteConfig = parseSiteConfig('site.yaml', site);
    const sitePolicy = compilePolicy(packs, siteConfig, { file: '/etc/idp-egress/site.yaml', text: site });
    const s = new DashboardState({ loaded: () => ({ policy: sitePolicy, packs, config: { config: siteConfig, file: undefined, baseDir: '/' } }), reference: () => reference, caNotAfter: 0, leafCache: () => 0, unwritableAudit: () => [], heldConnections: () => 0, connectionLimits: { limit: 1024, configured: 1024, openFilesLimit: undefined }, now: () => clock });
    const decision = judgeRequest(sitePolicy, { form: 'absolute', method: 'GET', url: 'https://acme.okta.com/api/v1/logs' }).decision;
    s.recordAll([{ ...outcome('GET', 'https://acme.okta.com/api/v1/logs'), decision, code: decision.code, enforced: false, reason: decision.reason }]);
    const snap = s.snapshot();
    expect(snap.endpoints.used).toMatchObject([{ id: 'site.okta.logs', site: expect.stringMatching(/^site\.yaml:\d+$/) }]);
    expect(snap.endpoints.unused.find((e) => e.id === 'site.okta.apps')).toMatchObject({ source: 'site', site: expect.stringMatching(/^site\.yaml:\d+$/) });
  });

  it('keeps token outcomes with their error codes, never a token', () => {
    const s = state();
    const tenant = '11111111-2222-3333-4444-555555555555';
    const token = { grantType: 'client_credentials', clientId: 'app', error: 'invalid_client', errorCodes: [7000215] };
    s.recordAll([outcome('POST', `https://login.microsoftonline.com/${tenant}/oauth2/v2.0/token`, { token, status: 401 })]);
    expect(s.snapshot().tokens).toMatchObject([{ provider: 'entra-id', grantType: 'client_credentials', outcome: 'error', error: 'invalid_client', codes: [7000215], count: 1 }]);
    expect(JSON.stringify(s.snapshot().tokens)).not.toContain('app');
  });

  it('stays bounded: a day of minutes, and every list capped, the oldest leaving first', () => {
    const s = state();
    const start = clock;
    for (let i = 0; i < 3000; i++) {
      clock = start + i * 60_000;
      s.recordAll([outcome('GET', `https://graph.microsoft.com/v1.0/users/u${i}/drive${i}`), outcome('GET', 'https://acme.okta.com/api/v1/users', { code: 'UPSTREAM_RESET', status: 502 })]);
    }
    s.reloaded(true, 'x');
    const snap = s.snapshot();
    expect(snap.series.t).toHaveLength(DASHBOARD_LIMITS.minutes);
    expect(snap.series.denied.every((n) => n === 1)).toBe(true);
    expect(snap.denials).toHaveLength(DASHBOARD_LIMITS.latestDenials);
    expect(snap.denials[0]!.shape).toBe('/v1.0/users/{userid}/drive2999');
    expect(snap.upstreamFailures).toMatchObject([{ provider: 'okta', code: 'UPSTREAM_RESET', count: 3000 }]);
    expect(snap.totals).toMatchObject({ denied: 3000, failed: 3000 });
    clock = start;
  });
});

describe('dashboard access', () => {
  const token = 'dashboard-token-4f0e9a7c1b2d3e5f';
  const basic = (password: string) => `Basic ${Buffer.from(`anyone:${password}`).toString('base64')}`;

  it('is open on loopback without a token, and refused off loopback without one, saying which setting to set', () => {
    expect(dashboardAccess(true, undefined, undefined)).toBe('allow');
    const refused = dashboardAccess(false, undefined, basic(token));
    expect(refused).toMatchObject({ status: 403, message: expect.stringContaining('dashboard.tokenFile is not set') });
  });

  it('asks for the token once it is set, on loopback too, as Basic password or Bearer', () => {
    for (const loopback of [true, false]) {
      expect(dashboardAccess(loopback, token, undefined)).toMatchObject({ status: 401, headers: { 'www-authenticate': expect.stringContaining('Basic realm=') } });
      expect(dashboardAccess(loopback, token, basic('wrong'))).toMatchObject({ status: 401 });
      expect(dashboardAccess(loopback, token, `Bearer ${token}x`)).toMatchObject({ status: 401 });
      expect(dashboardAccess(loopback, token, basic(token))).toBe('allow');
      expect(dashboardAccess(loopback, token, `Bearer ${token}`)).toBe('allow');
      expect(dashboardAccess(loopback, token, `bearer ${token}`)).toBe('allow');
    }
  });
});
