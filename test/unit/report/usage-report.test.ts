// The usage report answers an operator: a summary first (the real period, per provider and per
// client), denials over time, upstream failures and failed token calls in sections of their own,
// and path shapes named by the endpoint templates that matched them.
import { describe, expect, it } from 'vitest';
import { parseSiteConfig } from '../../../src/config/load.js';
import { siteConfigSchema } from '../../../src/config/schema.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import { loadPacks } from '../../../src/policy/pack.js';
import { renderReport } from '../../../src/report/render.js';
import { templateShape } from '../../../src/report/path-shape.js';
import { UsageAggregator } from '../../../src/report/usage-report.js';
import { BOUND_SITE, TENANT } from '../../support/policy.js';

const packs = loadPacks();
const config = parseSiteConfig('site.yaml', BOUND_SITE);
const policy = compilePolicy(packs, config);
const reference = compilePolicy(packs, siteConfigSchema.parse({}));

function aggregate(events: Record<string, unknown>[]) {
  const a = new UsageAggregator(policy, reference, {}, { packs, config });
  for (const e of events) a.add(e);
  return a.report();
}

const at = (iso: string, fields: Record<string, unknown>) => ({ time: iso, event: 'request', client: '10.20.0.15', method: 'GET', ...fields });
const allowed = (iso: string, extra: Record<string, unknown> = {}) => at(iso, { decision: 'allow', code: 'ALLOWED', provider: 'entra-id', endpoint: 'graph.users.list', status: 200, url: 'https://graph.microsoft.com/v1.0/users', ...extra });

describe('the usage report', () => {
  it('states the real period and a summary per provider and per client', () => {
    const r = aggregate([
      allowed('2026-12-01T08:10:00.000Z'),
      allowed('2026-12-01T09:30:00.000Z', { client: '10.20.0.16' }),
      at('2026-12-01T09:40:00.000Z', { decision: 'deny', code: 'PATH_NOT_ALLOWED', provider: 'entra-id', url: 'https://graph.microsoft.com/v1.0/users/u1/drive', status: 403 }),
      allowed('2026-12-01T09:50:00.000Z', { code: 'UPSTREAM_TIMEOUT', status: 504, reason: 'no response headers within 30000 ms' }),
    ]);
    expect([r.first, r.last]).toEqual(['2026-12-01T08:10:00.000Z', '2026-12-01T09:50:00.000Z']);
    expect(r.summary.total).toEqual({ allowed: 2, denied: 1, wouldDeny: 0, failed: 1 });
    expect(r.summary.byProvider).toEqual([{ provider: 'entra-id', allowed: 2, denied: 1, wouldDeny: 0, failed: 1 }]);
    expect(r.summary.byClient).toEqual([
      { client: '10.20.0.15', allowed: 1, denied: 1, wouldDeny: 0, failed: 1 },
      { client: '10.20.0.16', allowed: 1, denied: 0, wouldDeny: 0, failed: 0 },
    ]);
    expect(r.timeline).toMatchObject({ bucketMs: 3_600_000, allowed: [1, 1], denied: [0, 1], failed: [0, 1] });
    expect(r.upstreamFailures).toMatchObject([{ provider: 'entra-id', endpoint: 'graph.users.list', code: 'UPSTREAM_TIMEOUT', count: 1, reason: 'no response headers within 30000 ms' }]);
    expect(renderReport(r, 'text')).toMatch(/^idp-egress usage report: 2026-12-01T08:10:00\.000Z to 2026-12-01T09:50:00\.000Z, 4 events\n/);
  });

  it('lists the calls the client gave up on apart from upstream failures, with the longest they ran', () => {
    const r = aggregate([
      allowed('2026-12-01T08:00:00.000Z', { code: 'CLIENT_CLOSED', status: undefined, durationMs: 12_000.4, reason: 'the client closed the connection before the response was complete' }),
      allowed('2026-12-01T09:00:00.000Z', { code: 'CLIENT_CLOSED', status: 200, durationMs: 30_000.6, reason: 'the client closed the connection before the response was complete' }),
      allowed('2026-12-01T10:00:00.000Z'),
    ]);
    expect(r.abandoned).toEqual([{ provider: 'entra-id', endpoint: 'graph.users.list', count: 2, longestMs: 30_000.6, firstSeen: '2026-12-01T08:00:00.000Z', lastSeen: '2026-12-01T09:00:00.000Z' }]);
    // Not a provider failure: allowed calls, none of them in the upstream section.
    expect(r.upstreamFailures).toEqual([]);
    expect(r.summary.total).toMatchObject({ allowed: 3, failed: 0 });
    const text = renderReport(r, 'text');
    expect(text).toContain('Calls the client gave up on');
    expect(text).toMatch(/^\s*2\s+entra-id\s+graph\.users\.list\s+30001\s/m);
  });

  it('names the busiest 50 clients and sums the rest, however many addresses the logs hold', () => {
    // The site's server first; past 10,000 addresses, new ones are counted together as they come.
    const events = Array.from({ length: 3 }, () => allowed('2026-12-01T08:00:00.000Z', { client: '10.20.0.15' }));
    events.push(...Array.from({ length: 12_000 }, (_, i) => allowed('2026-12-01T08:00:01.000Z', { client: `2001:db8::${i.toString(16)}` })));
    const r = aggregate(events);
    expect(r.summary.byClient).toHaveLength(51);
    expect(r.summary.byClient[0]).toMatchObject({ client: '10.20.0.15', allowed: 3 });
    expect(r.summary.byClient.at(-1)).toMatchObject({ client: 'others', allowed: 12_000 - 49 });
    expect(r.summary.total.allowed).toBe(12_003);
  });

  it('charts days, not hours, past three days, with the empty ones in between', () => {
    const r = aggregate([allowed('2026-12-01T08:00:00.000Z'), allowed('2026-12-06T08:00:00.000Z')]);
    expect(r.timeline.bucketMs).toBe(86_400_000);
    expect(r.timeline.allowed).toEqual([1, 0, 0, 0, 0, 1]);
  });

  it('lists failed token calls with their AADSTS codes and ids for the provider, and never a token', () => {
    const token = { grantType: 'client_credentials', clientId: 'a1b2c3', error: 'invalid_client', errorCodes: [7000215], traceId: 'trace-1', correlationId: 'corr-1', tokenFp: 'ffff' };
    const r = aggregate([
      at('2026-12-01T08:00:00.000Z', { decision: 'allow', code: 'ALLOWED', provider: 'entra-id', endpoint: 'entra.token', kind: 'token', method: 'POST', status: 401, url: `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`, token }),
      at('2026-12-01T08:05:00.000Z', { decision: 'allow', code: 'ALLOWED', provider: 'entra-id', endpoint: 'entra.token', kind: 'token', method: 'POST', status: 200, url: `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`, token: { grantType: 'client_credentials', clientId: 'a1b2c3', expiresIn: 3599 } }),
    ]);
    expect(r.tokenFailures).toEqual([
      { provider: 'entra-id', endpoint: 'entra.token', clientId: 'a1b2c3', grantType: 'client_credentials', error: 'invalid_client', codes: [7000215], count: 1, firstSeen: '2026-12-01T08:00:00.000Z', lastSeen: '2026-12-01T08:00:00.000Z', traceId: 'trace-1', correlationId: 'corr-1' },
    ]);
    const md = renderReport(r, 'markdown');
    expect(md).toContain('| 1 | entra-id | a1b2c3 | client_credentials | invalid_client | AADSTS7000215 | trace-1 | corr-1 | 2026-12-01T08:00:00.000Z |');
  });

  it('names ids by the template that matched, keeps enum values, and shapes the rest by its rules', () => {
    expect(templateShape([policy], 'graph.microsoft.com', '/v1.0/users/u1/drive')).toBe('/v1.0/users/{userid}/drive');
    expect(templateShape([policy], 'graph.microsoft.com', '/beta/users/u8/drive/items/01ABCDEFGHIJKLMN2345')).toBe('/beta/users/{userid}/drive/items/{id}');
    expect(templateShape([policy], 'acme.okta.com', '/api/v1/users/00u1abc/groups/extra')).toBe('/api/v1/users/{userid}/groups/extra');
    // A tenant the site does not bind is not one of its values: shaped by the rules, not named.
    expect(templateShape([policy], 'login.microsoftonline.com', '/99999999-8888-7777-6666-555555555555/oauth2/v2.0/token')).toBe('/{id}/oauth2/v2.0/token');
    expect(templateShape([policy], 'unknown.example', '/a/6e7b768e-07e2-4810-8459-485f84f8f204')).toBe('/a/{id}');
  });
});
