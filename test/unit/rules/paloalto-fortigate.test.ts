import { describe, expect, it } from 'vitest';
import { cliIn } from '../../support/cli.js';

const SITE = 'providers:\n  entra-id: {}\n  okta: {}\n  onelogin: {}\n  keycloak:\n    baseUrl: https://sso.example.org:8443\n';

const rules = (args: string[]) => cliIn(SITE, ['rules', ...args]);

/**
 * The PAN-OS EDL formatting guidelines (reference/firewall-formats.md section 6): one entry per
 * LF-terminated line, no scheme, no blank lines or BOM, at most 255 characters, and "*" or "^"
 * only as a whole token (tokens are separated by . / ? & = ; +).
 */
function edlProblems(text: string): string[] {
  const problems: string[] = [];
  if (text.startsWith('\uFEFF')) problems.push('BOM');
  if (text.includes('\r')) problems.push('CR line ending');
  if (!text.endsWith('\n')) problems.push('no final newline');
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') problems.push('blank line');
    if (/^[a-z]+:\/\//i.test(line)) problems.push(`${line}: scheme`);
    if (line.length > 255) problems.push(`${line}: over 255 characters`);
    if (/\s|#/.test(line)) problems.push(`${line}: space or comment`);
    for (const token of line.split(/[./?&=;+]/)) if (/[*^]/.test(token) && token !== '*' && token !== '^') problems.push(`${line}: wildcard inside token ${token}`);
  }
  return problems;
}

describe('paloalto-edl', () => {
  it('is a URL list PAN-OS accepts: host entries with the trailing "/", "^" for exactly one label', async () => {
    const r = await rules(['--format', 'paloalto-edl']);
    expect(r.status).toBe(0);
    expect(edlProblems(r.out)).toEqual([]);
    expect(r.out.split('\n').slice(0, -1)).toEqual([
      'graph.microsoft.com/',
      'login.microsoftonline.com/',
      'sso.example.org/',
      '^.okta-emea.com/',
      '^.okta.com/',
      '^.oktapreview.com/',
      '^.onelogin.com/',
      'api.eu.onelogin.com/',
      'api.us.onelogin.com/',
    ]);
  });

  it('has no comment syntax, so what it cannot express goes to stderr, not into the list', async () => {
    const r = await rules(['--format', 'paloalto-edl']);
    expect(r.out).not.toContain('idp-egress');
    expect(r.err).toMatch(/^note: idp-egress rules, format paloalto-edl\n/);
    expect(r.err).toContain('entries carry no port');
  });

  it('the check itself catches what PAN-OS would reject', () => {
    expect(edlProblems('https://okta.com/\n*okta.com/\n# comment\n\n')).toEqual(['https://okta.com/: scheme', '*okta.com/: wildcard inside token *okta', '# comment: space or comment', 'blank line']);
  });
});

describe('paloalto-edl-domains', () => {
  it('is a domain list: the same names without "/", with a note that it does not allow traffic', async () => {
    const r = await rules(['--format', 'paloalto-edl-domains']);
    expect(edlProblems(r.out)).toEqual([]);
    expect(r.out).toContain('^.okta.com\n');
    expect(r.out).not.toContain('/');
    expect(r.err).toContain('a domain list feeds DNS Security and Anti-Spyware');
  });
});

describe('fortigate', () => {
  it('is a FortiOS CLI script: FQDN objects within FortiOS limits, a group of exactly them, a service for 8443', async () => {
    const r = await rules(['--format', 'fortigate']);
    const body = r.out.split('\n').filter((l) => l && !l.startsWith('#'));
    // Every "config" block ends with "end", every "edit" with "next".
    const stack: string[] = [];
    for (const line of body) {
      const word = line.trim().split(' ')[0]!;
      if (word === 'config' || word === 'edit') stack.push(word);
      if (word === 'end') expect(stack.pop()).toBe('config');
      if (word === 'next') expect(stack.pop()).toBe('edit');
    }
    expect(stack).toEqual([]);
    const names = [...r.out.matchAll(/^ {4}edit "([^"]+)"\n {8}set type fqdn\n {8}set fqdn "([^"]+)"/gm)].map((m) => [m[1]!, m[2]!] as const);
    expect(names.length).toBe(9);
    for (const [name, fqdn] of names) {
      expect(name.length).toBeLessThanOrEqual(79);
      expect(fqdn.length).toBeLessThanOrEqual(255);
      expect(fqdn).toMatch(/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)+$/);
    }
    const members = /set member (.*)/.exec(r.out)![1]!.match(/"[^"]+"/g)!.map((m) => m.slice(1, -1));
    expect(members.sort()).toEqual(names.map(([n]) => n).sort());
    expect(r.out).toContain('edit "idp-egress-tcp-8443"\n        set tcp-portrange 8443');
  });

  it('keeps object names within 79 characters and distinct for long hosts', async () => {
    const { renderFortigate } = await import('../../../src/rules/fortigate.js');
    const long = (n: string) => ({ host: `${n}${'a'.repeat(60)}.tenant.example.org`, wildcard: false, port: 443, provider: 'keycloak' as const, tls: 'intercept' as const, paths: [] });
    const none = { v4: [], v6: [] };
    const out = renderFortigate({ hosts: [long('one-'), long('two-')], generator: 'g', generatedAt: 't', configDigest: 'd', source: 's', posture: 'idp-only', clients: [], resolvers: none, reachable: none });
    const names = [...out.matchAll(/edit "([^"]+)"\n {8}set type fqdn/g)].map((m) => m[1]!);
    expect(names).toHaveLength(2);
    expect(new Set(names).size).toBe(2);
    for (const n of names) expect(n.length).toBeLessThanOrEqual(79);
  });
});
