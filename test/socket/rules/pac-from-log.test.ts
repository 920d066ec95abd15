import { createContext, runInContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { cliIn } from '../../support/cli.js';
import { needs } from '../../support/tools.js';

const SITE = 'providers:\n  entra-id: {}\n  okta: {}\nlisten: 0.0.0.0:3128\n';

const rules = (args: string[], files: Record<string, string> = {}) => cliIn(SITE, ['rules', ...args], files);

describe('pac', () => {
  it('routes exactly the allowlisted hosts to the gateway, fail-closed, in plain ES3', async () => {
    const r = await rules(['--format', 'pac', '--proxy', 'egress.corp.example:3128']);
    expect(r.status).toBe(0);
    expect(r.out).not.toMatch(/\b(let|const)\b|=>|\.includes\(/);
    const sandbox = createContext({});
    runInContext(r.out, sandbox, { timeout: 1000 });
    const find = (host: string) => runInContext(`FindProxyForURL("https://${host}/x", ${JSON.stringify(host)})`, sandbox) as string;
    for (const host of ['graph.microsoft.com', 'login.microsoftonline.com', 'LOGIN.MicrosoftOnline.com.', 'acme.okta.com', 'acme.oktapreview.com']) {
      expect(find(host), host).toBe('PROXY egress.corp.example:3128');
    }
    for (const host of ['okta.com', 'a.b.okta.com', 'evilokta.com', 'okta.com.evil.example', 'graph.microsoft.com.evil.example', 'microsoftonline.com', 'www.google.com']) {
      expect(find(host), host).toBe('DIRECT');
    }
  });

  it('takes the gateway address from the config when --proxy is not given', async () => {
    const r = await rules(['--format', 'pac']);
    expect(r.out).toContain('return "PROXY <gateway-host>:3128";');
    expect(r.err).toBe('');
  });

  it('warns when the proxy it names is a loopback address, which other machines cannot reach', async () => {
    const r = await cliIn('providers:\n  entra-id: {}\n', ['rules', '--format', 'pac']);
    expect(r.status).toBe(0);
    expect(r.out).toContain('return "PROXY 127.0.0.1:3128";');
    expect(r.err).toBe('idp-egress: warning: the PAC file sends the allowlisted hosts to 127.0.0.1:3128, a loopback address that only this machine can reach; give --proxy host:port (or rules.proxy in the config) as the clients reach the gateway\n');
    expect((await cliIn('providers:\n  entra-id: {}\n', ['rules', '--format', 'pac', '--proxy', '[::1]:3128'])).err).toContain('a loopback address');
  });

  it('takes the proxy from rules.proxy in the config, and --proxy over it', async () => {
    const site = 'providers:\n  entra-id: {}\nrules:\n  proxy: egress.corp.example:3128\n';
    const fromConfig = await cliIn(site, ['rules', '--format', 'pac']);
    expect(fromConfig.out).toContain('return "PROXY egress.corp.example:3128";');
    expect(fromConfig.err).toBe('');
    expect((await cliIn(site, ['rules', '--format', 'pac', '--proxy', 'other.corp.example:8080'])).out).toContain('return "PROXY other.corp.example:8080";');
  });

  it('refuses a --proxy that is not host:port, without echoing credentials, and brackets IPv6', async () => {
    const bad = await cliIn(SITE, ['rules', '--format', 'pac', '--proxy', 'egress.corp.example']);
    expect([bad.status, bad.out]).toEqual([1, '']);
    expect(bad.err).toBe('idp-egress: --proxy "egress.corp.example" is not host:port; write it as the clients reach the gateway, such as 10.0.0.5:3128\n');
    const secret = await cliIn(SITE, ['rules', '--format', 'pac', '--proxy', 'http://u:canary-pw-71@egress.corp.example:3128']);
    expect(secret.status).toBe(1);
    expect(secret.err).not.toContain('canary-pw-71');
    expect(secret.err).toContain('--proxy with credentials (user@) is not host:port');
    expect((await cliIn(SITE, ['rules', '--format', 'pac', '--proxy', '[2001:db8::5]:3128'])).out).toContain('return "PROXY [2001:db8::5]:3128";');
  });
});

const JAVA = needs(['java'], 'apt-get install openjdk-17-jre-headless');

describe('jvm', () => {
  it.skipIf(JAVA.skip)(`gives a shell line that a real JVM reads as the proxy properties, and lists hosts to keep proxied${JAVA.why}`, async () => {
    const r = await rules(['--format', 'jvm', '--proxy', 'egress.corp.example:3128']);
    expect(r.out).toContain('#   graph.microsoft.com\n');
    const line = r.out.trim().split('\n').at(-1)!;
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { stderr } = await promisify(execFile)('sh', ['-c', `java ${line} -XshowSettings:properties -version`]);
    expect(stderr).toMatch(/^\s*https\.proxyHost = egress\.corp\.example$/m);
    expect(stderr).toMatch(/^\s*https\.proxyPort = 3128$/m);
    expect(stderr).toMatch(/^\s*http\.nonProxyHosts = localhost\|127\.\*\|\[::1\]$/m);
  }, 30_000);
});

describe('--from-log', () => {
  const line = (host: string, endpoint: string, decision = 'allow') => JSON.stringify({ time: '2026-11-20T10:00:00Z', event: 'request', decision, code: 'ALLOWED', host, endpoint, method: 'GET' });
  const LOG = [
    line('graph.microsoft.com', 'graph.users.list'),
    line('graph.microsoft.com', 'graph.groups.members'),
    line('acme.okta.com', 'okta.users.list'),
    line('a.b.okta.com', 'okta.users.list'),
    line('other.okta.com', 'okta.users.list', 'would_deny'),
  ].join('\n');

  it('keeps only the hosts used, with wildcards turned into the concrete hosts seen', async () => {
    const r = await rules(['--format', 'hosts', '--from-log', 'audit.jsonl'], { 'audit.jsonl': LOG });
    expect(r.out).toContain('narrowed to the calls in audit.jsonl');
    expect(r.out.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual(['graph.microsoft.com', 'acme.okta.com']);
  });

  it('keeps only the endpoints used', async () => {
    const r = await rules(['--format', 'json', '--from-log', 'audit.jsonl'], { 'audit.jsonl': LOG });
    const inventory = JSON.parse(r.out) as { hosts: { host: string; endpoints: { id: string }[] }[] };
    expect(inventory.hosts.map((h) => [h.host, h.endpoints.map((e) => e.id)])).toEqual([
      ['graph.microsoft.com', ['graph.groups.members', 'graph.users.list']],
      ['acme.okta.com', ['okta.users.list']],
    ]);
  });
});
