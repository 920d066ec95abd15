import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSiteConfig, parseSiteConfig } from '../../../src/config/load.js';
import { problemsOf } from '../../support/problems.js';

/** The formatted problems for a config text, one string per problem. */
const problems = (yaml: string) => problemsOf(() => parseSiteConfig('site.yaml', yaml));

describe('site config errors name file:line:col, the key, what was expected and a fix', () => {
  it.each([
    ['unknown top-level key with a suggestion', 'version: 1\nprovidrs: {}\n', ['site.yaml:2:1 providrs: unknown key "providrs" [CONFIG_INVALID]\n    fix: did you mean "providers"?']],
    ['unknown provider key with a suggestion', 'providers:\n  entra-id:\n    clod: usgov\n', ['site.yaml:3:5 providers.entra-id.clod: unknown key "clod" [CONFIG_INVALID]\n    fix: did you mean "cloud"?']],
    ['unknown provider', 'providers:\n  azure: {}\n', ['site.yaml:2:3 providers.azure: unknown key "azure" [CONFIG_INVALID]\n    fix: remove it; keys allowed here: entra-id, google, okta, keycloak, onelogin']],
    ['misspelt provider', 'providers:\n  onelgin: {}\n', ['site.yaml:2:3 providers.onelgin: unknown key "onelgin" [CONFIG_INVALID]\n    fix: did you mean "onelogin"?']],
    ['bad mode with a suggestion', 'mode: enforced\n', ['site.yaml:1:7 mode: expected one of "enforce", "observe", found "enforced" [CONFIG_INVALID]\n    fix: did you mean "enforce"?']],
    ['bad provider tls', 'providers:\n  okta:\n    tls: passthrough\n', ['site.yaml:3:10 providers.okta.tls: expected one of "intercept", "tunnel", found "passthrough" [CONFIG_INVALID]']],
    ['wrong version', 'version: 2\n', ['site.yaml:1:10 version: expected 1, found 2 [CONFIG_INVALID]']],
    [
      'a parent proxy URL of another scheme, quoted without its password',
      'upstream:\n  proxy: socks5://jira:canary-pw@proxy.corp:1080\n',
      ['site.yaml:2:10 upstream.proxy: expected an http:// or https:// proxy URL, found "socks5://[REDACTED]@proxy.corp:1080" [CONFIG_INVALID]'],
    ],
    [
      'multi-tenant alias as tenant',
      'providers:\n  entra-id:\n    tenant: common\n',
      [
        "site.yaml:3:13 providers.entra-id.tenant[0]: \"common\" is a multi-tenant alias, not a tenant [CONFIG_INVALID]\n    fix: use the directory (tenant) ID from the Entra admin centre's Overview page, or a verified domain such as contoso.onmicrosoft.com",
      ],
    ],
    ['second tenant in a list', 'providers:\n  entra-id:\n    tenant:\n      - 11111111-2222-3333-4444-555555555555\n      - not a tenant\n', ['site.yaml:5:9 providers.entra-id.tenant[1]: "not a tenant" is neither a tenant GUID nor a domain [CONFIG_INVALID]']],
    ['Okta domain given as a URL', 'providers:\n  okta:\n    domain: https://acme.okta.com/\n', ['site.yaml:3:13 providers.okta.domain[0]: "https://acme.okta.com/" is not a host name [CONFIG_INVALID]\n    fix: write the host alone: acme.okta.com']],
    [
      'Okta domain given as an IP address',
      'providers:\n  okta:\n    domain: 10.0.0.1\n',
      [
        'site.yaml:3:13 providers.okta.domain[0]: "10.0.0.1" is an IP address, which the gateway refuses as a target [CONFIG_INVALID]\n    fix: name the host; if DNS does not know the name, map it to this address with upstream.resolve: { <name>: 10.0.0.1:443 } and list it in upstream.allowPrivate',
      ],
    ],
    [
      'an upstream.allowPrivate entry that is an IP address',
      'upstream:\n  allowPrivate: [kc.example.org, 10.0.0.5]\n',
      [
        'site.yaml:2:34 upstream.allowPrivate[1]: "10.0.0.5" is an IP address, which the gateway refuses as a target [CONFIG_INVALID]\n    fix: name the host; if DNS does not know the name, map it to this address with upstream.resolve: { <name>: 10.0.0.5:443 } and list it in upstream.allowPrivate',
      ],
    ],
    [
      'Keycloak base URL on an IP address',
      'providers:\n  keycloak:\n    baseUrl: https://10.0.0.5:8443\n    realm: staff\n',
      [
        'site.yaml:3:14 providers.keycloak.baseUrl[0]: "10.0.0.5" is an IP address, which the gateway refuses as a target [CONFIG_INVALID]\n    fix: name the host; if DNS does not know the name, map it to this address with upstream.resolve: { <name>: 10.0.0.5:8443 } and list it in upstream.allowPrivate',
      ],
    ],
    [
      'checkTokenTenant without a tenant GUID',
      'providers:\n  entra-id:\n    tenant: contoso.onmicrosoft.com\n    checkTokenTenant: true\n',
      [
        "site.yaml:4:23 providers.entra-id.checkTokenTenant: needs a tenant GUID in providers.entra-id.tenant to compare tokens with [CONFIG_INVALID]\n    fix: add the directory (tenant) ID from the Entra admin centre's Overview page to tenant",
      ],
    ],
    ['Keycloak without a base URL', 'providers:\n  keycloak:\n    realm: staff\n', ['site.yaml:2:3 providers.keycloak.baseUrl: is required to turn Keycloak on [CONFIG_INVALID]\n    fix: add baseUrl: https://sso.example.org (with /auth if User Sync is configured with it), or enabled: false']],
    ['Keycloak base URL over http', 'providers:\n  keycloak:\n    baseUrl: http://sso.example.org/auth\n', ['site.yaml:3:14 providers.keycloak.baseUrl[0]: expected https://host[:port][/path], with no query, user or fragment [CONFIG_INVALID]\n    fix: use https: https://sso.example.org/auth']],
    ['Keycloak base URL without scheme', 'providers:\n  keycloak:\n    baseUrl: sso.example.org\n', ['site.yaml:3:14 providers.keycloak.baseUrl[0]: expected https://host[:port][/path], with no query, user or fragment [CONFIG_INVALID]\n    fix: add the scheme: https://sso.example.org']],
    ['listen port out of range', 'listen: 127.0.0.1:99999\n', ['site.yaml:1:9 listen: "127.0.0.1:99999" is not host:port [CONFIG_INVALID]\n    fix: write it as 127.0.0.1:3128, [::1]:3128 or 0.0.0.0:3128']],
    ['bad CIDR', 'clients: [10.0.0.0/8, 10.0.0.0/33]\n', ['site.yaml:1:23 clients[1]: "10.0.0.0/33" is not an IP address or CIDR [CONFIG_INVALID]\n    fix: write it as 10.20.0.0/16, 192.0.2.7 or ::1/128']],
    ['bad duration', 'upstream:\n  timeouts:\n    connect: 10 seconds\n', ['site.yaml:3:14 upstream.timeouts.connect: expected a duration such as 500ms, 10s or 5m, found "10 seconds" [CONFIG_INVALID]']],
    ['bad resolve target', 'upstream:\n  resolve:\n    graph.microsoft.com: 127.0.0.1\n', ['site.yaml:3:26 upstream.resolve.graph.microsoft.com: "127.0.0.1" is not host:port [CONFIG_INVALID]\n    fix: write it as 127.0.0.1:3128, [::1]:3128 or 0.0.0.0:3128']],
    ['parent proxy credentials with a broken %-escape', 'upstream:\n  proxy: http://sync:100%off@proxy.corp:8080\n', ['site.yaml:2:10 upstream.proxy: the user or password has a malformed %-escape: write a literal % as %25 [CONFIG_INVALID]']],
    ['syslog without a target', 'log:\n  syslog:\n    format: cef\n', ['site.yaml:2:3 log.syslog.target: is required (expected string) [CONFIG_INVALID]']],
    ['syslog over UDP', 'log:\n  syslog:\n    target: siem.example:514\n    transport: udp\n', ['site.yaml:4:16 log.syslog.transport: expected one of "tls", "tcp", found "udp" [CONFIG_INVALID]\n    fix: did you mean "tcp"?']],
    ['syslog client certificate without its key', 'log:\n  syslog:\n    target: siem.example:6514\n    tls:\n      cert: client.pem\n', ['site.yaml:5:7 log.syslog.tls: tls.cert and tls.key go together: set both for a client certificate, or neither [CONFIG_INVALID]']],
    ['boolean given as a string', 'explainDenials: "yes"\n', ['site.yaml:1:17 explainDenials: expected boolean, found "yes" [CONFIG_INVALID]']],
    ['a list where a map belongs', 'providers:\n  - okta\n', ['site.yaml:2:3 providers: expected object, found a list [CONFIG_INVALID]']],
    ['missing required key in a block', 'proxyAuth:\n  username: sync\n', ['site.yaml:1:1 proxyAuth.passwordFile: is required (expected string) [CONFIG_INVALID]']],
    ['tab indentation', 'providers:\n\tokta: {}\n', ['site.yaml:2:1 Tabs are not allowed as indentation [CONFIG_SYNTAX]\n    fix: indent with spaces; YAML does not allow tabs for indentation']],
    ['duplicate key', 'mode: enforce\nmode: observe\n', ['site.yaml:2:1 Map keys must be unique [CONFIG_SYNTAX]\n    fix: remove one of the two entries; a key may appear once per map']],
    ['unclosed quote', 'listen: "127.0.0.1:3128\n', ['site.yaml:2:1 Missing closing "quote [CONFIG_SYNTAX]\n    fix: check the indentation and quoting of this line and the one before']],
  ])('%s', (_name, yaml, expected) => {
    expect(problems(yaml)).toEqual(expected);
  });

  it('reports every problem in one pass, in file order', () => {
    const found = problems('mode: x\nlisten: nope\nproviders:\n  okta:\n    domian: a.okta.com\n');
    expect(found.map((p) => p.split(' ')[0])).toEqual(['site.yaml:1:7', 'site.yaml:2:9', 'site.yaml:5:5']);
  });

  it('survives pathologically deep nesting with a syntax error, not a crash', () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    expect(problems(deep)[0]).toMatch(/^site\.yaml:1:\d+ .*\[CONFIG_SYNTAX\]$/);
  });
});

describe('site config defaults and file discovery', () => {
  it('serves the embedded default when there is no file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'idp-egress-'));
    const loaded = loadSiteConfig(undefined, dir);
    expect(loaded.file).toBeUndefined();
    // Addresses arrive parsed: nothing downstream reads the text again.
    expect(loaded.config).toMatchObject({
      version: 1,
      listen: { host: '127.0.0.1', port: 3128, text: '127.0.0.1:3128' },
      admin: { host: '127.0.0.1', port: 9090 },
      mode: 'enforce',
      clients: [
        { address: '127.0.0.1', prefix: 32, family: 4, block: '127.0.0.1/32' },
        { address: '::1', prefix: 128, family: 6, block: '::1/128' },
      ],
    });
    expect(loaded.config.providers).toBeUndefined();
    expect(Object.isFrozen(loaded.config)).toBe(true);
    expect(Object.isFrozen(loaded.config.upstream.timeouts)).toBe(true);
  });

  it('reads idp-egress.yaml from the working folder when no --config is given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'idp-egress-'));
    writeFileSync(join(dir, 'idp-egress.yaml'), 'mode: observe\n');
    const loaded = loadSiteConfig(undefined, dir);
    expect(loaded.file).toBe(join(dir, 'idp-egress.yaml'));
    expect(loaded.config.mode).toBe('observe');
  });

  it('names a missing --config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'idp-egress-'));
    expect(() => loadSiteConfig('missing.yaml', dir)).toThrow(`${join(dir, 'missing.yaml')}:1:1 cannot read the config: no such file [CONFIG_UNREADABLE]`);
  });

  it('turns durations and sizes into milliseconds and bytes', () => {
    const c = parseSiteConfig('site.yaml', 'upstream:\n  timeouts:\n    connect: 2s\n    headers: 1500\nlimits:\n  maxHeaderBytes: 16k\n  shutdownGrace: 1m\n');
    expect(c.upstream.timeouts).toEqual({ connect: 2000, headers: 1500, body: 60_000, total: 0 });
    expect(c.limits.maxHeaderBytes).toBe(16 * 1024);
    expect(c.limits.shutdownGrace).toBe(60_000);
  });

  it('reads a single tenant or domain as a one-item list', () => {
    const c = parseSiteConfig('site.yaml', 'providers:\n  entra-id:\n    tenant: contoso.onmicrosoft.com\n  okta:\n    domain: acme.okta.com\n');
    expect(c.providers?.['entra-id']?.tenant).toEqual(['contoso.onmicrosoft.com']);
    expect(c.providers?.okta?.domain).toEqual(['acme.okta.com']);
  });

  it('accepts the full example of docs/config.md', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../../docs/config.md', import.meta.url), 'utf8');
    const example = /```yaml\n([\s\S]*?)```/.exec(doc)![1]!;
    expect(() => parseSiteConfig('docs/config.md', example)).not.toThrow();
  });
});

describe('values the schema parses once', () => {
  it('hands over addresses, networks and base URLs as typed values', () => {
    const c = parseSiteConfig(
      'site.yaml',
      'listen: "[::1]:0"\nclients: [10.20.0.0/16, 192.0.2.7]\nupstream:\n  resolve:\n    sso.example.org: 127.0.0.1:8443\nproviders:\n  keycloak:\n    baseUrl: https://SSO.example.org:8443/auth\n    realm: staff\n',
    );
    expect(c.listen).toEqual({ host: '::1', port: 0, text: '[::1]:0' });
    expect(c.clients.map((n) => n.block)).toEqual(['10.20.0.0/16', '192.0.2.7/32']);
    expect(c.upstream.resolve['sso.example.org']).toMatchObject({ host: '127.0.0.1', port: 8443 });
    expect(c.providers?.keycloak?.baseUrl).toEqual([{ host: 'sso.example.org', port: 8443, prefix: ['auth'], text: 'https://SSO.example.org:8443/auth' }]);
  });
});
