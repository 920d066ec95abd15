// report --suggest: each suggestion, merged into the config, allows the calls it says it covers,
// and nothing suggested is looser than a binding or a site endpoint (no wildcard host, no unbound
// tenant); what no config change should allow is said, not suggested.
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseSiteConfig } from '../../../src/config/load.js';
import { siteConfigSchema } from '../../../src/config/schema.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import { loadPacks } from '../../../src/policy/pack.js';
import { renderSuggestions, SuggestionBuilder, type DeniedCall } from '../../../src/report/suggest.js';
import { judge, TENANT } from '../../support/policy.js';

const packs = loadPacks();
const reference = compilePolicy(packs, siteConfigSchema.parse({}));

const SITE = `providers:
  entra-id:
    tenant: ${TENANT}
  okta:
    domain: acme.okta.com
  google:
    customer: C03az79cb
`;
const OTHER_TENANT = '99999999-8888-7777-6666-555555555555';

/** Deep merge as an admin pastes a fragment: maps merge, lists gain what they lack. */
function merge(into: Record<string, unknown>, from: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(from)) {
    const cur = into[k];
    if (Array.isArray(cur) && Array.isArray(v)) into[k] = [...cur, ...v.filter((x) => !cur.some((c) => JSON.stringify(c) === JSON.stringify(x)))];
    else if (cur && typeof cur === 'object' && v && typeof v === 'object' && !Array.isArray(v)) merge(cur as Record<string, unknown>, v as Record<string, unknown>);
    else into[k] = v;
  }
  return into;
}

function suggest(site: string, calls: readonly DeniedCall[]) {
  const config = parseSiteConfig('site.yaml', site);
  const policy = compilePolicy(packs, config, { file: 'site.yaml', text: site });
  for (const c of calls) expect(judge(policy, c.method, c.url), `${c.method} ${c.url} is denied before`).toMatchObject({ action: 'deny', code: c.code });
  const builder = new SuggestionBuilder(policy, reference, packs, config);
  for (const c of calls) builder.add(c);
  const result = builder.result();
  let merged = parse(site) as Record<string, unknown>;
  for (const s of result.suggestions) merged = merge(merged, parse(s.yaml) as Record<string, unknown>);
  // YAML out, then through the real loader: a suggestion must paste into a valid config.
  const text = JSON.stringify(merged, null, 1);
  const after = compilePolicy(packs, parseSiteConfig('merged.yaml', text), { file: 'merged.yaml', text });
  return { result, after };
}

const call = (method: string, url: string, code: string, client = '10.20.0.15'): DeniedCall => ({ method, url, code, client });

describe('report --suggest', () => {
  const calls = [
    call('GET', 'https://acme.okta.com/api/v1/logs?since=[REDACTED]', 'PATH_NOT_ALLOWED'),
    call('GET', 'https://acme.okta.com/api/v1/users/00u1abcdefghij2345/factors', 'PATH_NOT_ALLOWED'),
    call('GET', 'https://acme.okta.com/api/v1/users/00u9zyxwvutsrq6789/factors', 'PATH_NOT_ALLOWED', '10.20.0.16'),
    call('PUT', 'https://acme.okta.com/api/v1/users/00u1abcdefghij2345', 'METHOD_NOT_ALLOWED'),
    call('POST', `https://login.microsoftonline.com/${OTHER_TENANT}/oauth2/v2.0/token`, 'TENANT_NOT_ALLOWED'),
    call('GET', 'https://www.googleapis.com/admin/directory/v1/users?customer=C0other&maxResults=500', 'QUERY_NOT_ALLOWED'),
    call('GET', 'https://acme.onelogin.com/api/1/users', 'HOST_NOT_ALLOWED'),
    call('GET', 'https://marketplace.atlassian.com/rest/2/addons/com.resolution.usersync', 'HOST_NOT_ALLOWED'),
  ];
  const refused = [
    call('POST', 'https://login.microsoftonline.com/common/oauth2/v2.0/token', 'TENANT_NOT_ALLOWED'),
    call('GET', 'https://graph.microsoft.com/v1.0/users/x/%2e%2e/y', 'AMBIGUOUS_PATH'),
  ];

  it('suggests, for each denied group, a change that allows exactly those calls once merged', () => {
    const { result, after } = suggest(SITE, calls);
    for (const c of calls) expect(judge(after, c.method, c.url), `${c.method} ${c.url} is allowed after`).toMatchObject({ action: 'allow' });
    // Still refused: another org, another customer, other methods.
    expect(judge(after, 'GET', 'https://beta.okta.com/api/v1/logs')).toMatchObject({ action: 'deny' });
    expect(judge(after, 'GET', 'https://www.googleapis.com/admin/directory/v1/users?customer=C0third')).toMatchObject({ action: 'deny', code: 'QUERY_NOT_ALLOWED' });
    expect(judge(after, 'DELETE', 'https://acme.okta.com/api/v1/users/00u1abcdefghij2345')).toMatchObject({ action: 'deny', code: 'METHOD_NOT_ALLOWED' });
    expect(judge(after, 'GET', 'https://other.onelogin.com/api/1/users')).toMatchObject({ action: 'deny' });
    expect(result.suggestions.map((s) => [s.kind, s.summary, s.calls])).toEqual([
      ['site-endpoint', 'a site endpoint under okta: GET https://{oktaDomain}/api/v1/users/{userid}/factors', 2],
      ['site-endpoint', 'a site endpoint under okta: GET https://{oktaDomain}/api/v1/logs', 1],
      ['site-endpoint', 'a site endpoint under okta: PUT https://{oktaDomain}/api/v1/users/{userid}', 1],
      ['site-provider', 'a site provider for marketplace.atlassian.com (no pack names it), with GET https://marketplace.atlassian.com/rest/2/addons/com.resolution.usersync', 1],
      ['bind', 'bind providers.entra-id.tenant: 99999999-8888-7777-6666-555555555555', 1],
      ['bind', 'bind providers.google.customer: C0other', 1],
      ['enable-provider', 'turn on OneLogin, bound to the values the calls named (providers.onelogin.host: acme.onelogin.com)', 1],
    ]);
    const factors = result.suggestions[0]!;
    expect(factors.clients).toEqual(['10.20.0.15', '10.20.0.16']);
    expect(factors.covers).toEqual(['GET acme.okta.com /api/v1/users/{userid}/factors']);
    expect(factors.yaml).toBe(
      'providers:\n  okta:\n    endpoints:\n      - id: site.okta.users-factors\n        methods:\n          - GET\n        urls: https://{oktaDomain}/api/v1/users/{userid}/factors\n        reason: "observed: GET /api/v1/users/{userid}/factors (review before enforcing)"\n',
    );
    const put = result.suggestions.find((s) => s.summary.includes('PUT'))!;
    expect(put.caution).toContain('PUT writes to the provider');
    expect(put.yaml).toContain('acknowledgeWrites: true');
  });

  it('never suggests an unbound tenant or a refusal the gateway makes on purpose, and says why', () => {
    const { result } = suggest(SITE, refused);
    expect(result.suggestions).toEqual([]);
    expect(result.none.map((n) => [n.request, n.code, n.why.split(/[:,;]/)[0]])).toEqual([
      ['GET graph.microsoft.com /v1.0/users/{userid}/%2e%2e/y', 'AMBIGUOUS_PATH', 'refused on purpose whatever the config (docs/errors.md)'],
      ['POST login.microsoftonline.com /common/oauth2/v2.0/token', 'TENANT_NOT_ALLOWED', 'the only change that would allow it is an unbound tenant (a multi-tenant alias such as common)'],
    ]);
  });

  it('binds the host it saw instead of leaving a provider on its wildcard', () => {
    const unbound = 'providers:\n  okta: {}\n';
    const { result, after } = suggest(unbound, [call('GET', 'https://acme.okta.com/api/v1/logs', 'PATH_NOT_ALLOWED')]);
    expect(result.suggestions[0]!.yaml).toContain('domain:\n      - acme.okta.com');
    expect(judge(after, 'GET', 'https://acme.okta.com/api/v1/logs')).toMatchObject({ action: 'allow' });
    expect(judge(after, 'GET', 'https://evil.okta.com/api/v1/logs')).toMatchObject({ action: 'deny' });
    // Turning Entra on from a Graph call alone would leave the tenant open: said, not suggested.
    const graphOnly = suggest('providers:\n  okta:\n    domain: acme.okta.com\n', [call('GET', 'https://graph.microsoft.com/v1.0/users', 'HOST_NOT_ALLOWED')]);
    expect(graphOnly.result.suggestions).toEqual([]);
    expect(graphOnly.result.none[0]!.why).toContain('would leave providers.entra-id.tenant unbound');
  });

  it('never suggests a template its own check would refuse, and names at most 20 clients however many called', () => {
    const odd = suggest(SITE, [call('GET', 'https://acme.okta.com/api/v1/reports/q3%20summary', 'PATH_NOT_ALLOWED')]);
    expect(odd.result.suggestions).toEqual([]);
    expect(odd.result.none).toMatchObject([{ code: 'PATH_NOT_ALLOWED', why: expect.stringMatching(/^no site endpoint can name this path \(segment "q3%20summary" must be a literal or a whole \{variable\}\)/) }]);
    const flood = Array.from({ length: 30 }, (_, i) => call('GET', 'https://acme.okta.com/api/v1/logs', 'PATH_NOT_ALLOWED', `10.20.1.${i}`));
    const { result } = suggest(SITE, [...flood, flood[0]!, flood[25]!]);
    expect(result.suggestions[0]).toMatchObject({ calls: 32, callsFromOthers: 11 });
    expect(result.suggestions[0]!.clients).toHaveLength(20);
    expect(renderSuggestions(result, 'text')).toContain('32 calls from 10.20.1.0, ');
    expect(renderSuggestions(result, 'text')).toContain(' (and 11 from other addresses); covers GET acme.okta.com /api/v1/logs');
  });

  it('renders ready-to-paste text and markdown', () => {
    const { result } = suggest(SITE, [...calls, ...refused]);
    const text = renderSuggestions(result, 'text');
    expect(text).toContain('1. a site endpoint under okta: GET https://{oktaDomain}/api/v1/users/{userid}/factors\n   2 calls from 10.20.0.15, 10.20.0.16; covers GET acme.okta.com /api/v1/users/{userid}/factors\n   | providers:');
    expect(text).toContain('Denials no config change should allow:');
    const md = renderSuggestions(result, 'markdown');
    expect(md).toContain('```yaml\nproviders:\n  okta:');
    expect(JSON.parse(renderSuggestions(result, 'json')).suggestions).toHaveLength(7);
  });
});
