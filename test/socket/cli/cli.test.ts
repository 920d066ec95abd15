import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/program.js';
import { PACKAGE_ROOT, PACKAGE_VERSION } from '../../../src/core/package-root.js';
import { BOUND_SITE, TENANT } from '../../support/policy.js';

async function cli(args: string[], files: Record<string, string> = {}) {
  const cwd = mkdtempSync(join(tmpdir(), 'idp-egress-cli-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(cwd, name), text);
  let out = '';
  let err = '';
  const status = await runCli(args, { out: (t) => (out += t), err: (t) => (err += t), cwd });
  return { status, out, err, cwd };
}

describe('idp-egress --version', () => {
  it('prints the version and the Node.js it runs on, and exits 0', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await cli([flag]);
      expect(r.status).toBe(0);
      expect(r.out).toBe(`idp-egress ${PACKAGE_VERSION} (Node.js ${process.version})\n`);
    }
    expect(PACKAGE_VERSION).toBe((JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  });
});

describe('idp-egress check', () => {
  it('validates the embedded default and lists providers, hosts and warnings', async () => {
    const r = await cli(['check']);
    expect(r.status).toBe(0);
    expect(r.out).toContain(`config:   embedded default (no --config and no idp-egress.yaml in ${r.cwd})`);
    expect(r.out).toMatch(/^entra-id +on +enforce +intercept +15 +login\.microsoftonline\.com graph\.microsoft\.com$/m);
    expect(r.out).toMatch(/^keycloak +off +- +- +0 +providers\.keycloak\.baseUrl is not set$/m);
    expect(r.out).toContain("  - Microsoft Entra ID (Microsoft Graph): tenant not pinned (providers.entra-id.tenant): any tenant's token endpoint is allowed; set the directory (tenant) ID\n");
    expect(r.out).toContain('OK: config and packs are valid (5 warnings)');
  });

  it('reads idp-egress.yaml from the working folder', async () => {
    const r = await cli(['check'], { 'idp-egress.yaml': BOUND_SITE });
    expect(r.status).toBe(0);
    expect(r.out).toContain(`config:   ${join(r.cwd, 'idp-egress.yaml')}`);
    expect(r.out).toContain('OK: config and packs are valid\n');
  });

  it('exits 1 and prints every problem with file:line:col', async () => {
    const r = await cli(['check', '--config', 'bad.yaml'], { 'bad.yaml': 'mode: enforced\nproviders:\n  okta:\n    domian: acme.okta.com\n' });
    expect(r.status).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toBe(
      `idp-egress: the configuration is invalid:\n` +
        `  ${join(r.cwd, 'bad.yaml')}:1:7 mode: expected one of "enforce", "observe", found "enforced" [CONFIG_INVALID]\n` +
        `      fix: did you mean "enforce"?\n` +
        `  ${join(r.cwd, 'bad.yaml')}:4:5 providers.okta.domian: unknown key "domian" [CONFIG_INVALID]\n` +
        `      fix: did you mean "domain"?\n`,
    );
  });
});

describe('files the config names', () => {
  it('refuse a dashboard token file that is missing or too short to be a secret', async () => {
    const missing = await cli(['check'], { 'idp-egress.yaml': 'dashboard:\n  tokenFile: dashboard.token\n' });
    expect(missing.status).toBe(1);
    expect(missing.err).toContain(`idp-egress.yaml:2:14 dashboard.tokenFile: cannot read ${join(missing.cwd, 'dashboard.token')} (no such file)`);
    const short = await cli(['check'], { 'idp-egress.yaml': 'dashboard:\n  tokenFile: dashboard.token\n', 'dashboard.token': 'hunter2\n' });
    expect(short.status).toBe(1);
    expect(short.err).toContain('idp-egress.yaml:2:14 dashboard.tokenFile: dashboard.token holds only 7 characters [CONFIG_INVALID]\n      fix: put a random token of at least 22 characters on its first line: openssl rand -hex 16 > FILE');
    const good = await cli(['check'], { 'idp-egress.yaml': 'dashboard:\n  tokenFile: dashboard.token\n', 'dashboard.token': '4f0e9a7c1b2d3e5f4f0e9a7c1b2d3e5f\n' });
    expect(good.status).toBe(0);
  });

  it('are read by check and serve: a wrong path or wrong content is a problem at its key, before anything listens', async () => {
    const site = 'proxyAuth:\n  username: jira\n  passwordFile: secrets/proxy-password\nupstream:\n  ca: certs/corporate-ca.pem\n';
    const missing = await cli(['check'], { 'idp-egress.yaml': site });
    expect(missing.status).toBe(1);
    expect(missing.err).toBe(
      `idp-egress: the configuration is invalid:\n` +
        `  ${join(missing.cwd, 'idp-egress.yaml')}:3:17 proxyAuth.passwordFile: cannot read ${join(missing.cwd, 'secrets/proxy-password')} (no such file) [CONFIG_INVALID]\n` +
        `      fix: a path relative to the config file, or an absolute one\n` +
        `  ${join(missing.cwd, 'idp-egress.yaml')}:5:7 upstream.ca: cannot read ${join(missing.cwd, 'certs/corporate-ca.pem')} (no such file) [CONFIG_INVALID]\n` +
        `      fix: a path relative to the config file, or an absolute one\n`,
    );
    // serve stops at the same problems, before it creates a CA or listens.
    const serve = await cli(['serve'], { 'idp-egress.yaml': site });
    expect(serve.status).toBe(1);
    expect(serve.err).toContain('idp-egress.yaml:5:7 upstream.ca: cannot read');
    expect(existsSync(join(serve.cwd, 'certs/ca.pem'))).toBe(false);

    const wrong = await cli(['check'], { 'idp-egress.yaml': site.replace('secrets/proxy-password', 'empty').replace('certs/corporate-ca.pem', 'not-a-cert.pem'), empty: '\n', 'not-a-cert.pem': 'hello\n' });
    expect(wrong.status).toBe(1);
    expect(wrong.err).toContain('idp-egress.yaml:3:17 proxyAuth.passwordFile: empty is empty [CONFIG_INVALID]');
    expect(wrong.err).toContain('idp-egress.yaml:5:7 upstream.ca: not-a-cert.pem holds no PEM certificate (-----BEGIN CERTIFICATE-----) [CONFIG_INVALID]');

    const syslog = 'log:\n  syslog:\n    target: siem.example:6514\n    tls:\n      ca: siem-ca.pem\n      cert: client.pem\n      key: client-key.pem\n';
    const collector = await cli(['check'], { 'idp-egress.yaml': syslog, 'siem-ca.pem': 'hello\n', 'client.pem': 'hello\n' });
    expect(collector.status).toBe(1);
    expect(collector.err).toContain('idp-egress.yaml:5:11 log.syslog.tls.ca: siem-ca.pem holds no PEM certificate [CONFIG_INVALID]');
    expect(collector.err).toContain('idp-egress.yaml:6:13 log.syslog.tls.cert: client.pem holds no PEM certificate [CONFIG_INVALID]');
    expect(collector.err).toContain(`idp-egress.yaml:7:12 log.syslog.tls.key: cannot read ${join(collector.cwd, 'client-key.pem')} (no such file) [CONFIG_INVALID]`);
  });
});

describe('idp-egress serve on a taken address', () => {
  it('names the address, the likely cause and the settings to change', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const r = await cli(['serve'], { 'idp-egress.yaml': `listen: 127.0.0.1:${port}\nadmin: false\n` });
      expect(r.status).toBe(1);
      expect(r.err).toContain(
        `idp-egress: cannot start: 127.0.0.1:${port}: another process already listens there (a second idp-egress, Squid?); stop it, or set another address in \`listen\` (the proxy) or \`admin\` (metrics and health) in the config\n`,
      );
    } finally {
      taken.close();
    }
  });
});

describe('idp-egress serve where it cannot write', () => {
  it('names the CA or audit log path and the setting to change', async () => {
    // A file where a folder should be: the same failure as a folder the gateway's user may not write.
    const ca = await cli(['serve'], { 'idp-egress.yaml': 'listen: 127.0.0.1:0\nadmin: false\nca:\n  cert: blocked/ca.pem\n  key: blocked/ca-key.pem\n', blocked: '' });
    expect(ca.status).toBe(1);
    expect(ca.err).toMatch(/^idp-egress: cannot start: cannot create the interception CA at .*blocked\/ca\.pem: (ENOTDIR|EEXIST) on .*blocked; run the gateway as a user that may write there, or set ca\.cert and ca\.key to a writable place$/m);
    const log = await cli(['serve'], { 'idp-egress.yaml': 'listen: 127.0.0.1:0\nadmin: false\nlog:\n  file: blocked/audit.jsonl\n', blocked: '' });
    expect(log.status).toBe(1);
    expect(log.err).toMatch(/^idp-egress: cannot start: cannot open the audit log .*blocked\/audit\.jsonl: (ENOTDIR|EEXIST); run the gateway as a user that may write there, or set log\.file to a writable place$/m);
  });
});

describe('idp-egress explain', () => {
  it('explains an allowed call and exits 0', async () => {
    const r = await cli(['explain', 'POST', `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`, '-c', 'site.yaml'], { 'site.yaml': BOUND_SITE });
    expect(r.status).toBe(0);
    expect(r.out).toBe(
      [
        'ALLOW  entra.token',
        `  request:  POST https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`,
        '  provider: entra-id',
        '  endpoint: entra.token (token)',
        '  template: https://login.microsoftonline.com/{directoryTenantId}/oauth2/v2.0/token',
        '  reason:   entra.token: Request and refresh the access token',
        '  mode:     enforce',
        '',
      ].join('\n'),
    );
  });

  it('says "forwarded" in observe mode only for denials observe mode forwards (regression)', async () => {
    const site = { 'site.yaml': `${BOUND_SITE}mode: observe\n` };
    const plain = await cli(['explain', 'GET', 'http://graph.microsoft.com/v1.0/users', '-c', 'site.yaml'], site);
    expect(plain.out.split('\n')[0]).toBe('DENY  SCHEME_NOT_ALLOWED');
    const literal = await cli(['explain', 'GET', 'https://20.190.151.7/v1.0/users', '-c', 'site.yaml'], site);
    expect(literal.out.split('\n')[0]).toBe('DENY  IP_LITERAL_NOT_ALLOWED');
    const path = await cli(['explain', 'GET', 'https://graph.microsoft.com/v1.0/users/u1/drive', '-c', 'site.yaml'], site);
    expect(path.out.split('\n')[0]).toBe('DENY  PATH_NOT_ALLOWED  (observe mode: forwarded and logged as would_deny)');
  });

  it('explains a denial with its code and closest rule and exits 3', async () => {
    const r = await cli(['explain', 'GET', 'https://graph.microsoft.com/v1.0/users/u1/drive']);
    expect(r.status).toBe(3);
    expect(r.out).toBe(
      [
        'DENY  PATH_NOT_ALLOWED',
        '  request:  GET https://graph.microsoft.com/v1.0/users/u1/drive',
        '  provider: entra-id',
        '  reason:   no entra-id endpoint continues /v1.0/users/u1 with "drive"',
        '  closest:  graph.users.get  GET https://graph.microsoft.com/{apiVersion}/users/{userid}',
        '  mode:     enforce',
        '',
      ].join('\n'),
    );
  });

  it('judges the URL exactly as given: no dot-segment normalisation first', async () => {
    const r = await cli(['explain', 'GET', 'https://graph.microsoft.com/v1.0/users/u1/../../groups']);
    expect(r.status).toBe(3);
    expect(r.out).toContain('DENY  AMBIGUOUS_PATH');
  });

  it('says when observe mode would forward a denial', async () => {
    const r = await cli(['explain', 'GET', 'https://example.com/'], { 'idp-egress.yaml': 'mode: observe\n' });
    expect(r.out).toContain('DENY  HOST_NOT_ALLOWED  (observe mode: forwarded and logged as would_deny)');
  });

  it('prints JSON with --json', async () => {
    const r = await cli(['explain', '--json', 'GET', 'https://acme.okta.com/api/v1/groups?limit=200']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      request: { method: 'GET', url: 'https://acme.okta.com/api/v1/groups?limit=200' },
      decision: {
        action: 'allow',
        code: 'ALLOWED',
        reason: 'okta.groups.list: Fetch all groups (required for processing the group names if required groups are configured)',
        mode: 'enforce',
        host: 'acme.okta.com',
        port: 443,
        provider: 'okta',
        tls: 'intercept',
        endpoint: 'okta.groups.list',
        kind: 'api',
        template: 'https://*.okta.com/api/v1/groups',
      },
      effect: 'allow',
    });
  });

  it('checks SNI and Host header when given', async () => {
    const r = await cli(['explain', '--sni', 'evil.test', 'GET', 'https://graph.microsoft.com/v1.0/users']);
    expect(r.status).toBe(3);
    expect(r.out).toContain('DENY  SNI_MISMATCH');
  });

  it('refuses a missing argument with exit 1', async () => {
    const r = await cli(['explain', 'GET']);
    expect(r.status).toBe(1);
    expect(r.err).toContain("error: missing required argument 'url'");
  });
});

describe('idp-egress endpoints', () => {
  it('prints a table with one row per URL template', async () => {
    const r = await cli(['endpoints']);
    expect(r.status).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^PROVIDER +ENDPOINT +KIND +METHODS +URL +SOURCE +REASON$/);
    expect(lines).toContainEqual(expect.stringMatching(/^okta +okta\.groups\.users +api +GET +https:\/\/\*\.okta\.com\/api\/v1\/groups\/\{groupid\}\/users +documented +Fetch members of a specific group$/));
    expect(lines.filter((l) => l.includes('graph.users.photo.content'))).toHaveLength(4);
  });

  it('prints JSON with bound variables and the source of each entry', async () => {
    const r = await cli(['endpoints', '--format', 'json'], { 'idp-egress.yaml': BOUND_SITE });
    const rows = JSON.parse(r.out) as { id: string; urls: string[]; source: string; variant?: string }[];
    expect(rows.find((e) => e.id === 'okta.users.list')).toMatchObject({ urls: ['https://acme.okta.com/api/v1/users'], source: 'documented' });
    expect(rows.find((e) => e.id === 'google.token.oauth2-host')).toMatchObject({ source: 'variant', variant: expect.stringContaining('canonical token endpoint') });
    expect(rows).toHaveLength(51);
  });

  it('prints markdown', async () => {
    const r = await cli(['endpoints', '-f', 'markdown']);
    expect(r.out.split('\n')[0]).toBe('| Provider | Endpoint | Kind | Methods | URL | Source | Reason |');
    expect(r.out).toContain('| entra-id | `entra.token` | token | POST | `https://login.microsoftonline.com/{directoryTenantId}/oauth2/v2.0/token` | documented | Request and refresh the access token |');
  });

  it('refuses an unknown format', async () => {
    const r = await cli(['endpoints', '--format', 'csv']);
    expect(r.status).toBe(1);
    expect(r.err).toContain("error: option '-f, --format <format>' argument 'csv' is invalid. Allowed choices are table, json, markdown.");
  });
});

describe('the idp-egress binary', () => {
  const bin = join(PACKAGE_ROOT, 'dist/src/cli/main.js');

  it('runs as installed (npm test builds it first)', async () => {
    expect(existsSync(bin), 'run npm test (or npm run build) so dist/ exists').toBe(true);
    const run = promisify(execFile);
    const { stdout } = await run(process.execPath, [bin, 'explain', 'GET', 'https://graph.microsoft.com/v1.0/groups?$top=999'], { cwd: tmpdir() });
    expect(stdout).toMatch(/^ALLOW  graph\.groups\.list\n/);
    const denied = await run(process.execPath, [bin, 'explain', 'DELETE', 'https://graph.microsoft.com/v1.0/groups/g1/members'], { cwd: tmpdir() }).catch((e: { code: number; stdout: string }) => e);
    expect(denied).toMatchObject({ code: 3, stdout: expect.stringMatching(/^DENY  METHOD_NOT_ALLOWED\n/) });
  });

  it('suggests the command for a typo', async () => {
    const run = promisify(execFile);
    const r = await run(process.execPath, [bin, 'chek'], { cwd: tmpdir() }).catch((e: { code: number; stderr: string }) => e);
    expect(r).toMatchObject({ code: 1, stderr: "error: unknown command 'chek'\n(Did you mean check?)\n" });
  });
});
