// Site endpoints on the wire: the gateway forwards what a site endpoint allows and refuses the
// rest with the same codes as for a pack endpoint; the audit line carries where the config defines
// it, and the usage report built from that audit shows it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/program.js';
import { startHarness, viaProxy, type Harness } from '../../support/gateway.js';
import { BOUND_SITE } from '../../support/policy.js';
import { auditFile, until } from '../../support/wait.js';

// Okta with one endpoint of the site's own, and a provider no pack has (on a host the harness
// routes to its fake provider), which writes with an acknowledgement.
const SITE = `${BOUND_SITE.replace(
  '  okta:\n    domain: acme.okta.com\n',
  `  okta:
    domain: acme.okta.com
    endpoints:
      - id: site.okta.system-log
        methods: [GET]
        urls: https://{oktaDomain}/api/v1/logs
        reason: Sign-in audit the SIEM pulls
`,
)}siteProviders:
  marketplace:
    title: Atlassian Marketplace licence check
    endpoints:
      - id: site.marketplace.licence
        methods: [GET, PUT]
        acknowledgeWrites: true
        urls: https://marketplace.atlassian.com/rest/2/licences/{licenceId}
        variables: { licenceId: segment }
        reason: Licence renewal the admins run by hand
`;
const line = (id: string) => SITE.split('\n').findIndex((l) => l.includes(`- id: ${id}`)) + 1;

let h: Harness;
let log: string;

beforeAll(async () => {
  h = await startHarness({ site: SITE, log: 'log:\n  stdout: false\n  file: logs/audit.jsonl' });
  log = join(h.dir, 'logs/audit.jsonl');
});
afterAll(() => h.close());

describe('site endpoints through the gateway', () => {
  it('forwards what they allow, refuses the rest, and audits each call with where the config defines it', async () => {
    expect((await viaProxy(h, 'https://acme.okta.com/api/v1/logs?since=2026-12-01T00:00:00Z')).status).toBe(200);
    expect((await viaProxy(h, 'https://acme.okta.com/api/v1/users')).status).toBe(200);
    const put = await viaProxy(h, 'https://marketplace.atlassian.com/rest/2/licences/L-42', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"renew":true}' });
    expect(put.status).toBe(200);
    const del = await viaProxy(h, 'https://marketplace.atlassian.com/rest/2/licences/L-42', { method: 'DELETE' });
    expect(del.status).toBe(403);
    expect(del.headers['x-idp-egress-code']).toBe('METHOD_NOT_ALLOWED');
    expect((await viaProxy(h, 'https://marketplace.atlassian.com/rest/2/addons')).status).toBe(403);
    // What reached the provider: the allowed calls only, the PUT with its body.
    expect(h.provider.seen.filter((s) => s.host === 'marketplace.atlassian.com').map((s) => [s.method, s.url, s.body])).toEqual([['PUT', '/rest/2/licences/L-42', '{"renew":true}']]);

    await until(() => auditFile(log).filter((e) => e['event'] === 'request').length >= 5, 5_000, 'five request lines');
    const events = auditFile(log).filter((e) => e['event'] === 'request');
    const by = (url: string, method = 'GET') => events.find((e) => String(e['url']).split('?')[0] === url && e['method'] === method)!;
    expect(by('https://acme.okta.com/api/v1/logs')).toMatchObject({ decision: 'allow', provider: 'okta', endpoint: 'site.okta.system-log', site: `idp-egress.yaml:${line('site.okta.system-log')}`, status: 200 });
    expect(by('https://acme.okta.com/api/v1/users')).toMatchObject({ decision: 'allow', endpoint: 'okta.users.list' });
    expect(by('https://acme.okta.com/api/v1/users')['site']).toBeUndefined();
    expect(by('https://marketplace.atlassian.com/rest/2/licences/L-42', 'PUT')).toMatchObject({ decision: 'allow', provider: 'marketplace', endpoint: 'site.marketplace.licence', site: `idp-egress.yaml:${line('site.marketplace.licence')}` });
    expect(by('https://marketplace.atlassian.com/rest/2/licences/L-42', 'DELETE')).toMatchObject({ decision: 'deny', code: 'METHOD_NOT_ALLOWED', endpoint: 'site.marketplace.licence', site: `idp-egress.yaml:${line('site.marketplace.licence')}` });
  });

  it('shows them as the site\'s in the usage report built from that audit', async () => {
    let out = '';
    const status = await runCli(['report', log, '--config', h.configFile], { out: (t) => (out += t), err: () => undefined, cwd: h.dir });
    expect(status).toBe(0);
    expect(out).toContain(`site.okta.system-log (site idp-egress.yaml:${line('site.okta.system-log')})`);
    expect(out).toContain(`site.marketplace.licence (site idp-egress.yaml:${line('site.marketplace.licence')})`);
    // The unused section says which never-used endpoints are the site's.
    expect(out).toMatch(/okta\s+okta\.users\.get\s+documented/);
  });

  it('come back from an observe week as report --suggest fragments that, pasted in, allow what was observed', async () => {
    const observed = await startHarness({ site: `${BOUND_SITE}mode: observe\n`, log: 'log:\n  stdout: false\n  file: logs/audit.jsonl' });
    try {
      // Forwarded in observe mode, and logged as would_deny.
      expect((await viaProxy(observed, 'https://acme.okta.com/api/v1/users/00u1abcdefghij2345/factors')).status).toBe(200);
      expect((await viaProxy(observed, 'https://acme.okta.com/api/v1/users/00u9zyxwvutsrq6789/factors')).status).toBe(200);
      const observedLog = join(observed.dir, 'logs/audit.jsonl');
      await until(() => auditFile(observedLog).filter((e) => e['decision'] === 'would_deny').length >= 2, 5_000, 'two would_deny lines');
      const run = async (args: string[]) => {
        let out = '';
        const status = await runCli(args, { out: (t) => (out += t), err: () => undefined, cwd: observed.dir });
        return { status, out };
      };
      const suggested = await run(['report', '--suggest', '--format', 'json', observedLog, '--config', observed.configFile]);
      expect(suggested.status).toBe(0);
      const { suggestions } = JSON.parse(suggested.out) as { suggestions: { kind: string; yaml: string; calls: number; clients: string[] }[] };
      expect(suggestions).toHaveLength(1);
      expect(suggestions[0]).toMatchObject({ kind: 'site-endpoint', calls: 2, clients: ['127.0.0.1'] });
      // Pasted under the okta provider the config already has, it is valid and allows the calls.
      const entry = suggestions[0]!.yaml.split('\n    endpoints:\n')[1]!;
      const pasted = BOUND_SITE.replace('  okta:\n    domain: acme.okta.com\n', `  okta:\n    domain: acme.okta.com\n    endpoints:\n${entry}`);
      writeFileSync(join(observed.dir, 'after.yaml'), pasted);
      const explained = await run(['explain', 'GET', 'https://acme.okta.com/api/v1/users/00u5anotheruser77/factors', '--config', 'after.yaml']);
      expect(explained.status).toBe(0);
      expect(explained.out).toContain('ALLOW  site.okta.users-factors');
      expect((await run(['explain', 'GET', 'https://acme.okta.com/api/v1/users/00u5anotheruser77/factors/extra', '--config', 'after.yaml'])).status).toBe(3);
    } finally {
      await observed.close();
    }
  });
});
