// Observe mode end to end: the same traffic in enforce and observe mode; what enforce denies,
// observe forwards and records as would_deny with the same code, in the audit log and metrics.
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { viaProxy, withHarness } from '../../support/gateway.js';
import { sendRaw } from '../../support/raw.js';
import { auditFile, until } from '../../support/wait.js';

const TRAFFIC: readonly [method: string, url: string][] = [
  ['GET', 'https://graph.microsoft.com/v1.0/users?$top=999'],
  ['GET', 'https://graph.microsoft.com/v1.0/users/u1/drive'],
  ['DELETE', 'https://graph.microsoft.com/v1.0/groups/g1/members'],
  ['GET', 'https://www.googleapis.com/drive/v3/files'],
  ['GET', 'https://acme.okta.com/api/v1/apps'],
  ['GET', 'https://acme.okta.com/api/v1/users'],
];

async function run(mode: 'enforce' | 'observe') {
  return withHarness({ extra: `mode: ${mode}`, log: 'log:\n  stdout: false\n  file: audit.jsonl' }, async (h) => {
    const statuses: number[] = [];
    for (const [method, url] of TRAFFIC) statuses.push((await viaProxy(h, url, { method })).status);
    const requests = () => auditFile(join(h.dir, 'audit.jsonl')).filter((e) => e['event'] === 'request') as unknown as { event: string; decision: string; code: string; url: string }[];
    await until(() => requests().length === TRAFFIC.length, 3_000, 'every request is in the audit file');
    const events = requests();
    const metrics = await (await request(`http://127.0.0.1:${h.run.adminAddress!.port}/metrics`)).body.text();
    return { statuses, events, metrics, forwarded: h.provider.seen.length };
  });
}

describe('observe mode', () => {
  it('forwards what enforce denies and records it as would_deny with the same code', async () => {
    const enforce = await run('enforce');
    const observe = await run('observe');
    expect(enforce.statuses).toEqual([200, 403, 403, 403, 403, 200]);
    expect(observe.statuses).toEqual([200, 200, 200, 200, 200, 200]);
    expect(enforce.forwarded).toBe(2);
    expect(observe.forwarded).toBe(6);
    const summary = (events: typeof enforce.events) => events.map((e) => `${e.decision} ${e.code}`);
    expect(summary(enforce.events)).toEqual(['allow ALLOWED', 'deny PATH_NOT_ALLOWED', 'deny METHOD_NOT_ALLOWED', 'deny PATH_NOT_ALLOWED', 'deny PATH_NOT_ALLOWED', 'allow ALLOWED']);
    expect(summary(observe.events)).toEqual(summary(enforce.events).map((s) => s.replace(/^deny/, 'would_deny')));
    expect(observe.metrics).toMatch(/idp_egress_requests_total\{provider="entra-id",endpoint="graph\.groups\.members",decision="would_deny",code="METHOD_NOT_ALLOWED",status_class="2xx"\} 1/);
    expect(enforce.metrics).toMatch(/idp_egress_requests_total\{provider="entra-id",endpoint="graph\.groups\.members",decision="deny",code="METHOD_NOT_ALLOWED",status_class="4xx"\} 1/);
  });

  it('tunnels a host no provider has (Marketplace) and records would_deny HOST_NOT_ALLOWED; enforce refuses its CONNECT', async () => {
    const url = 'https://marketplace.atlassian.com/rest/2/addons?limit=1';
    await withHarness({ extra: 'mode: observe', log: 'log:\n  stdout: false\n  file: audit.jsonl' }, async (observe) => {
      expect((await viaProxy(observe, url)).status).toBe(200);
      expect(observe.provider.seen.map((r) => `${r.host} ${r.url}`)).toEqual(['marketplace.atlassian.com /rest/2/addons?limit=1']);
      await until(() => auditFile(join(observe.dir, 'audit.jsonl')).length === 2, 3_000, 'both events are in the audit file');
      const events = auditFile(join(observe.dir, 'audit.jsonl')) as unknown as { event: string; decision: string; code: string }[];
      expect(events.map((e) => `${e.event} ${e.decision} ${e.code}`)).toEqual(['connect would_deny HOST_NOT_ALLOWED', 'request would_deny HOST_NOT_ALLOWED']);
    });
    await withHarness({}, async (enforce) => {
      await expect(viaProxy(enforce, url)).rejects.toThrow(/403/);
      expect(enforce.provider.seen).toEqual([]);
    });
  });

  it('says "forwarded" only for what observe mode forwards: plain http and IP literals are refused, and their 403 says so (regression)', async () => {
    await withHarness({ extra: 'mode: observe' }, async (observe) => {
      const plain = await sendRaw(observe.run.address.port, 'GET http://graph.microsoft.com/v1.0/users HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\n');
      expect(plain).toMatch(/^HTTP\/1\.1 403 /);
      expect(plain).toContain('DENY  SCHEME_NOT_ALLOWED\n');
      expect(plain).not.toContain('observe mode: forwarded');
      const literal = await sendRaw(observe.run.address.port, 'GET https://20.190.151.7/v1.0/users HTTP/1.1\r\nHost: 20.190.151.7\r\n\r\n');
      expect(literal).toContain('DENY  IP_LITERAL_NOT_ALLOWED\n');
      expect(literal).not.toContain('observe mode: forwarded');
      expect(observe.provider.seen).toEqual([]);
    });
  });
});
