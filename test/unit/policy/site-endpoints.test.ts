// Site endpoints: what a site adds beyond the vendor's list is compiled by the same code as the
// packs, can be no looser than a pack endpoint, and is marked, with where it was written,
// wherever an endpoint is shown.
import { describe, expect, it } from 'vitest';
import { parseSiteConfig } from '../../../src/config/load.js';
import { rulesContext } from '../../../src/rules/context.js';
import { RULES_FORMATS, type FormatOptions } from '../../../src/rules/formats.js';
import type { RulesContext } from '../../../src/rules/context.js';
import { loadPacks } from '../../../src/policy/pack.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import { decisionText } from '../../../src/policy/decision-text.js';
import { judge as judgeRequest } from '../../../src/policy/judge.js';
import { judge, policyFrom } from '../../support/policy.js';
import { problemsOf } from '../../support/problems.js';

const SITE = `providers:
  okta:
    domain: acme.okta.com
    endpoints:
      - id: site.okta.system-log
        methods: [GET]
        urls: https://{oktaDomain}/api/v1/logs
        reason: Sign-in audit the SIEM pulls (CHG-1234)
      - id: site.okta.user-factors
        methods: [GET]
        urls: ['https://{oktaDomain}/api/v1/users/{userId}/factors']
        variables: { userId: segment }
        reason: MFA enrolment report
  google:
    customer: C03az79cb
    endpoints:
      - id: site.google.user-aliases
        methods: [GET]
        urls: https://www.googleapis.com/admin/directory/v1/users/{userid}/aliases
        query: { oneOf: [customer] }
        reason: Alias sync
siteProviders:
  acme-hr:
    title: ACME HR directory
    endpoints:
      - id: site.acme.people
        methods: [GET, PATCH]
        acknowledgeWrites: true
        urls: https://hr.acme.example/api/people/{personId}
        variables: { personId: guid }
        reason: Writes the Jira username back to HR
`;

const GUID = '0b7c6e0e-9d7c-4f6e-8a55-3f1f6f8a9b10';

describe('site endpoints', () => {
  const policy = policyFrom(SITE);

  it('are allowed like pack endpoints, and the decision says where the config defines them', () => {
    expect(judge(policy, 'GET', 'https://acme.okta.com/api/v1/logs?since=2026-12-01')).toMatchObject({ action: 'allow', endpoint: 'site.okta.system-log', site: 'test.yaml:5', provider: 'okta' });
    expect(judge(policy, 'GET', 'https://acme.okta.com/api/v1/users/00u1/factors')).toMatchObject({ action: 'allow', endpoint: 'site.okta.user-factors', site: 'test.yaml:9' });
    // The pack's own endpoints keep their decisions, and carry no site mark.
    expect(judge(policy, 'GET', 'https://acme.okta.com/api/v1/users')).toMatchObject({ action: 'allow', endpoint: 'okta.users.list', site: undefined });
    const text = decisionText('GET', 'https://acme.okta.com/api/v1/logs', judgeRequest(policy, { form: 'absolute', method: 'GET', url: 'https://acme.okta.com/api/v1/logs' }), { closest: true });
    expect(text).toContain("source:   site endpoint, defined at test.yaml:5 (not in the vendor's list)");
  });

  it('are no looser than the grammar: one segment per variable, the site binding, the method lock, the host', () => {
    expect(judge(policy, 'GET', 'https://acme.okta.com/api/v1/logs/extra')).toMatchObject({ action: 'deny', code: 'PATH_NOT_ALLOWED' });
    expect(judge(policy, 'GET', 'https://acme.okta.com/api/v1/users/a/b/factors')).toMatchObject({ action: 'deny', code: 'PATH_NOT_ALLOWED' });
    expect(judge(policy, 'POST', 'https://acme.okta.com/api/v1/logs')).toMatchObject({ action: 'deny', code: 'METHOD_NOT_ALLOWED', endpoint: 'site.okta.system-log' });
    expect(judge(policy, 'GET', 'https://other.okta.com/api/v1/logs')).toMatchObject({ action: 'deny', code: 'HOST_NOT_ALLOWED' });
    // The query rule binds the call to the site's customer, as the pack's own rules do.
    expect(judge(policy, 'GET', 'https://www.googleapis.com/admin/directory/v1/users/u1/aliases?customer=C03az79cb')).toMatchObject({ action: 'allow', endpoint: 'site.google.user-aliases' });
    expect(judge(policy, 'GET', 'https://www.googleapis.com/admin/directory/v1/users/u1/aliases?customer=C0other')).toMatchObject({ action: 'deny', code: 'QUERY_NOT_ALLOWED' });
    expect(judge(policy, 'GET', 'https://www.googleapis.com/admin/directory/v1/users/u1/aliases')).toMatchObject({ action: 'deny', code: 'QUERY_NOT_ALLOWED' });
    // A site variable typed guid takes a GUID and nothing else.
    expect(judge(policy, 'PATCH', `https://hr.acme.example/api/people/${GUID}`)).toMatchObject({ action: 'allow', provider: 'acme-hr', site: 'test.yaml:26' });
    expect(judge(policy, 'PATCH', 'https://hr.acme.example/api/people/not-a-guid')).toMatchObject({ action: 'deny', code: 'PATH_NOT_ALLOWED' });
    expect(judge(policy, 'DELETE', `https://hr.acme.example/api/people/${GUID}`)).toMatchObject({ action: 'deny', code: 'METHOD_NOT_ALLOWED' });
  });

  it('make a site-defined provider a provider like the others', () => {
    const hr = policy.providers.find((p) => p.provider === 'acme-hr')!;
    expect(hr).toMatchObject({ title: 'ACME HR directory', enabled: true, mode: 'enforce', tls: 'intercept', hosts: ['hr.acme.example'] });
    // Packs in file order, each with the site's additions after its own; site providers last.
    expect(policy.endpoints.filter((e) => e.source === 'site').map((e) => [e.id, e.site])).toEqual([
      ['site.google.user-aliases', 'test.yaml:17'],
      ['site.okta.system-log', 'test.yaml:5'],
      ['site.okta.user-factors', 'test.yaml:9'],
      ['site.acme.people', 'test.yaml:26'],
    ]);
    const off = policyFrom(SITE.replace('    title: ACME HR directory\n', '    title: ACME HR directory\n    enabled: false\n'));
    expect(judge(off, 'GET', `https://hr.acme.example/api/people/${GUID}`)).toMatchObject({ action: 'deny', code: 'HOST_NOT_ALLOWED', reason: expect.stringContaining('ACME HR directory is off') });
  });

  it('are listed, with file:line, in every rules format that has room for them', () => {
    const packs = loadPacks();
    const config = parseSiteConfig('/etc/idp-egress/idp-egress.yaml', SITE);
    const loaded = { policy: compilePolicy(packs, config, { file: '/etc/idp-egress/idp-egress.yaml', text: SITE }), packs, config: { config, file: '/etc/idp-egress/idp-egress.yaml', baseDir: '/etc/idp-egress', text: SITE } };
    const ctx = rulesContext(loaded, undefined, { SOURCE_DATE_EPOCH: '0' });
    const render = (format: keyof typeof RULES_FORMATS, c: RulesContext = ctx, proxy = '127.0.0.1:3128') => (RULES_FORMATS[format].render as (c: RulesContext, o: FormatOptions) => string)(c, { proxy });
    const squid = render('squid');
    expect(squid).toContain("# the site's own endpoints, beyond the vendor's list (site endpoints in the config):");
    expect(squid).toContain('#   - site.acme.people GET,PATCH https://hr.acme.example/api/people/{personId} (idp-egress.yaml:26)');
    expect(squid).toContain('# site.okta.system-log: https://acme.okta.com/api/v1/logs (site endpoint, idp-egress.yaml:5)');
    expect(squid).toMatch(/^acl egress_methods_GET_PATCH method GET PATCH$/m);
    const json = JSON.parse(render('json')) as { hosts: { host: string; endpoints: { id: string; source: string; site?: string }[] }[] };
    expect(json.hosts.find((h) => h.host === 'acme.okta.com')!.endpoints.find((e) => e.id === 'site.okta.system-log')).toMatchObject({ source: 'site', site: 'idp-egress.yaml:5' });
    expect(json.hosts.find((h) => h.host === 'acme.okta.com')!.endpoints.find((e) => e.id === 'okta.users.list')).toMatchObject({ source: 'documented' });
    const csv = render('csv');
    expect(csv).toMatch(/^acme\.okta\.com,443,okta,intercept,[^,]*,documented\+site,/m);
    expect(csv).toMatch(/^hr\.acme\.example,443,acme-hr,intercept,site\.acme\.people,site,/m);
    const aws = JSON.parse(render('aws-network-firewall')) as { Metadata: { siteEndpoints: { endpoint: string }[] } };
    expect(aws.Metadata.siteEndpoints.map((e) => e.endpoint)).toContain('site.okta.user-factors');
    for (const format of ['nftables', 'hosts', 'pac', 'cilium', 'istio', 'fortigate', 'suricata'] as const) {
      expect(render(format, ctx, '10.0.0.5:3128'), format).toContain('site.okta.system-log GET https://acme.okta.com/api/v1/logs (idp-egress.yaml:5)');
    }
    // Without site endpoints, no such block.
    const plain = rulesContext({ ...loaded, policy: policyFrom('providers:\n  okta:\n    domain: acme.okta.com\n') }, undefined, { SOURCE_DATE_EPOCH: '0' });
    expect(render('squid', plain)).not.toContain('site endpoints');
  });
});

describe('site endpoint problems', () => {
  const load = (yaml: string) => problemsOf(() => policyFrom(yaml));

  it('names file:line:col and a fix for each, all at once', () => {
    const problems = load(`providers:
  okta:
    domain: acme.okta.com
    endpoints:
      - id: okta.users.list
        methods: [GET]
        urls: https://{orgDomain}/api/v1/logs
        reason: r
      - id: site.okta.factors
        methods: [GET]
        urls: https://{oktaDomain}/api/v1/users/{userId}/factors
        reason: r
      - id: site.okta.bound
        methods: [GET]
        urls: https://{oktaDomain}/api/v1/groups
        query: { oneOf: [customer] }
        reason: r
`);
    expect(problems).toEqual([
      'test.yaml:5:13 providers.okta.endpoints[0].id: okta.users.list is already used by the okta pack [CONFIG_INVALID]\n    fix: give the site endpoint an id of its own, such as site.<provider>.<what>',
      "test.yaml:7:15 providers.okta.endpoints[0].urls[0]: {orgDomain} cannot stand for the host: Okta's host variable is {oktaDomain} [CONFIG_INVALID]\n    fix: write https://{oktaDomain}/api/v1/logs",
      'test.yaml:11:15 providers.okta.endpoints[1].urls[0]: {userId} is not a variable of Okta [CONFIG_INVALID]\n    fix: declare it under variables (userId: segment, guid or domain), or use one of the pack\'s: {userid}, {groupid}',
      'test.yaml:16:26 providers.okta.endpoints[2].query.oneOf[0]: query.oneOf names customer, which is not a site-bound variable of Okta [CONFIG_INVALID]\n    fix: name one of: none (this provider has no query binding)',
    ]);
  });

  it('refuses writes without an acknowledgement, wildcards, and a site provider named like a pack', () => {
    expect(load('providers:\n  okta:\n    endpoints:\n      - id: site.okta.deactivate\n        methods: [POST]\n        urls: https://{oktaDomain}/api/v1/users/{userid}/lifecycle/deactivate\n        reason: r\n')).toEqual([
      'test.yaml:5:18 providers.okta.endpoints[0].methods: POST writes to the provider, which User Sync never needs [CONFIG_INVALID]\n    fix: add acknowledgeWrites: true to this endpoint if the site really needs it, or allow GET only',
    ]);
    expect(load('providers:\n  okta:\n    endpoints:\n      - id: site.okta.any\n        methods: [GET]\n        urls: https://{oktaDomain}/api/v1/*\n        reason: r\n')[0]).toContain('segment "*" must be a literal or a whole {variable}');
    expect(load('providers:\n  okta:\n    endpoints:\n      - id: site.okta.any\n        methods: [GET]\n        urls: https://{oktaDomain}/api/v1/users?limit=5\n        reason: r\n')[0]).toContain('fix: drop the query');
    expect(load('siteProviders:\n  okta:\n    title: t\n    endpoints:\n      - id: site.x.y\n        methods: [GET]\n        urls: https://x.example/a\n        reason: r\n')[0]).toBe('test.yaml:3:5 siteProviders.okta: is a shipped pack [CONFIG_INVALID]\n    fix: configure it under providers.okta, with endpoints: for what the pack lacks');
    expect(load('siteProviders:\n  hr:\n    title: t\n    endpoints:\n      - id: site.x.y\n        methods: [GET]\n        urls: https://{host}/a\n        reason: r\n')[0]).toContain('{host} cannot stand for the host: a site-defined provider names its hosts');
    expect(load('providers:\n  okta:\n    endpoints:\n      - id: site.okta.x\n        methods: [GET]\n        urls: https://{oktaDomain}/api/{oktaDomain}\n        reason: r\n')).toEqual([
      'test.yaml:6:15 providers.okta.endpoints[0].urls[0]: {oktaDomain} is a host variable and cannot stand in the path [CONFIG_INVALID]',
    ]);
  });

  it('takes a token POST without an acknowledgement: it only asks for a token', () => {
    const p = policyFrom('siteProviders:\n  hr:\n    title: HR\n    endpoints:\n      - id: site.hr.token\n        kind: token\n        methods: [POST]\n        urls: https://hr.example/oauth/token\n        reason: r\n');
    expect(judge(p, 'POST', 'https://hr.example/oauth/token')).toMatchObject({ action: 'allow', kind: 'token' });
    expect(p.warnings.filter((w) => w.includes('writes'))).toEqual([]);
  });

  it('reports duplicates, added methods, shadows and acknowledged writes as warnings', () => {
    const p = policyFrom(`providers:
  okta:
    domain: acme.okta.com
    endpoints:
      - id: site.okta.users
        methods: [GET]
        urls: https://{oktaDomain}/api/v1/users
        reason: r
      - id: site.okta.users-write
        methods: [GET, PUT]
        acknowledgeWrites: true
        urls: https://{oktaDomain}/api/v1/users/{userid}
        reason: r
      - id: site.okta.me
        methods: [GET]
        urls: https://{oktaDomain}/api/v1/users/me
        reason: r
      - id: site.okta.any-user-sub
        methods: [GET]
        urls: https://{oktaDomain}/api/v1/{x}/{userid}/groups
        variables: { x: segment }
        reason: r
`);
    expect(p.warnings.filter((w) => w.startsWith('site endpoint'))).toEqual([
      'site endpoint site.okta.users (test.yaml:5) duplicates okta.users.list, which already allows GET on https://{oktaDomain}/api/v1/users: remove it',
      'site endpoint site.okta.users-write (test.yaml:9) allows PUT: writes to Okta, acknowledged',
      "site endpoint site.okta.users-write (test.yaml:9) adds PUT to okta.users.get's path https://{oktaDomain}/api/v1/users/{userid}",
      'site endpoint site.okta.me (test.yaml:14) shadows okta.users.get: requests to https://{oktaDomain}/api/v1/users/me are judged by the site endpoint (GET), not by okta.users.get (GET)',
    ]);
    // The pack endpoint keeps the paths it names literally; a duplicate changes no decision.
    expect(judge(p, 'GET', 'https://acme.okta.com/api/v1/users')).toMatchObject({ endpoint: 'okta.users.list' });
    expect(judge(p, 'GET', 'https://acme.okta.com/api/v1/users/00u1')).toMatchObject({ endpoint: 'okta.users.get' });
    expect(judge(p, 'PUT', 'https://acme.okta.com/api/v1/users/00u1')).toMatchObject({ action: 'allow', endpoint: 'site.okta.users-write' });
    expect(judge(p, 'GET', 'https://acme.okta.com/api/v1/users/me')).toMatchObject({ endpoint: 'site.okta.me' });
    expect(judge(p, 'GET', 'https://acme.okta.com/api/v1/users/00u1/groups')).toMatchObject({ endpoint: 'okta.users.groups' });
  });
});
