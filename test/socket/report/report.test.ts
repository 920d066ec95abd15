import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTimeBound } from '../../../src/cli/report.js';
import { runCli } from '../../../src/cli/program.js';
import { pathShape } from '../../../src/report/path-shape.js';
import type { UsageReport } from '../../../src/report/usage-report.js';
import { startHarness, viaProxy, type Harness } from '../../support/gateway.js';
import { openConnect, tlsOver } from '../../support/raw.js';
import { auditFile, until } from '../../support/wait.js';

const SITE = 'providers:\n  entra-id: {}\n  okta:\n    domain: acme.okta.com\n    mode: observe\n';
let h: Harness;
let log: string;

async function report(args: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const status = await runCli(['report', '--config', h.configFile, ...args], { out: (t) => (out += t), err: (t) => (err += t), cwd: h.dir });
  return { status, out, err };
}

beforeAll(async () => {
  h = await startHarness({ site: SITE, log: 'log:\n  stdout: false\n  file: audit.jsonl' });
  log = join(h.dir, 'audit.jsonl');
  for (let i = 0; i < 3; i++) await viaProxy(h, `https://graph.microsoft.com/v1.0/users?$top=999&$skiptoken=${i}`);
  await viaProxy(h, 'https://graph.microsoft.com/v1.0/users/6e7b768e-07e2-4810-8459-485f84f8f204/drive');
  await viaProxy(h, 'https://graph.microsoft.com/v1.0/users/alice%40contoso.com/drive');
  await viaProxy(h, 'https://acme.okta.com/api/v1/users?limit=200');
  await viaProxy(h, 'https://acme.okta.com/api/v1/apps/0oa1gjh63g214q0Hq0g4');
  // OneLogin is not listed in this site's config: the CONNECT is refused.
  await viaProxy(h, 'https://acme.onelogin.com/api/2/users').catch(() => undefined);
  // A client that does not trust the gateway's CA: the CONNECT is allowed, the handshake fails.
  const { socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
  await tlsOver(socket, 'graph.microsoft.com', h.providerCaPem).catch(() => undefined);
  // The failed handshake is the last event: an allowed CONNECT whose code names the failure.
  await until(() => auditFile(log).some((e) => e['event'] === 'connect' && e['host'] === 'graph.microsoft.com' && e['decision'] === 'allow' && e['code'] !== 'ALLOWED'), 3_000, 'the failed tunnel is logged');
});
afterAll(() => h.close());

describe('idp-egress report', () => {
  it('counts calls per endpoint, groups denials by path shape, and lists unused endpoints', async () => {
    const r = await report([log, '--format', 'json']);
    expect(r.status).toBe(0);
    // Every line of the gateway's own log is read: nothing to say on stderr.
    expect(r.err).toBe('');
    const rep = JSON.parse(r.out) as UsageReport;
    expect(rep.endpoints.map((u) => [u.provider, u.endpoint, u.calls, u.byStatusClass['2xx']])).toEqual([
      ['entra-id', 'graph.users.list', 3, 3],
      ['okta', 'okta.users.list', 1, 1],
    ]);
    expect(rep.endpoints[0]!.p50Ms).toBeGreaterThan(0);
    expect(rep.denied.map((d) => [d.count, d.decision, d.code, d.method, d.host, d.shape, d.packEntry])).toEqual([
      [2, 'deny', 'PATH_NOT_ALLOWED', 'GET', 'graph.microsoft.com', '/v1.0/users/{userid}/drive', undefined],
      [1, 'would_deny', 'PATH_NOT_ALLOWED', 'GET', 'acme.okta.com', '/api/v1/apps/{id}', undefined],
      [1, 'deny', 'HOST_NOT_ALLOWED', 'CONNECT', 'acme.onelogin.com', '(CONNECT)', undefined],
    ]);
    expect(rep.failedTunnels.map((f) => [f.count, f.code, f.host])).toEqual([[1, 'CLIENT_TLS_FAILED', 'graph.microsoft.com']]);
    expect(rep.failedTunnels[0]!.reason).toMatch(/does it trust the idp-egress CA\?/);
    expect(rep.unused.map((u) => u.id)).toContain('entra.token');
    expect(rep.unused.map((u) => u.id)).not.toContain('graph.users.list');
    expect(rep.unused.every((u) => u.provider === 'entra-id' || u.provider === 'okta')).toBe(true);
  });

  it('names the pack entry that would allow a denied call of a provider that is off', async () => {
    const line = JSON.stringify({ time: new Date().toISOString(), event: 'request', decision: 'deny', code: 'HOST_NOT_ALLOWED', method: 'GET', url: 'https://acme.onelogin.com/api/2/users/123' });
    writeFileSync(join(h.dir, 'onelogin.jsonl'), `${line}\n`);
    const rep = JSON.parse((await report([join(h.dir, 'onelogin.jsonl'), '--format', 'json'])).out) as UsageReport;
    expect(rep.denied[0]).toMatchObject({ shape: '/api/2/users/{userid}', packEntry: 'onelogin.numbered.users.get', change: expect.stringContaining('turn on OneLogin') });
  });

  it('reads gzipped logs the same way, and several files together', async () => {
    writeFileSync(join(h.dir, 'audit.1.jsonl.gz'), gzipSync(readFileSync(log)));
    const plain = JSON.parse((await report([log, '--format', 'json'])).out) as UsageReport;
    const gz = JSON.parse((await report([join(h.dir, 'audit.1.jsonl.gz'), '--format', 'json'])).out) as UsageReport;
    expect(gz.endpoints.map((u) => u.calls)).toEqual(plain.endpoints.map((u) => u.calls));
    const both = JSON.parse((await report([log, join(h.dir, 'audit.1.jsonl.gz'), '--format', 'json'])).out) as UsageReport;
    expect(both.endpoints[0]!.calls).toBe(6);
  });

  it('keeps only events inside --since and --until', async () => {
    const lines = ['2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z', '2026-03-01T00:00:00Z'].map((time) =>
      JSON.stringify({ time, event: 'request', decision: 'allow', code: 'ALLOWED', provider: 'entra-id', endpoint: 'graph.groups.list', method: 'GET', status: 200, durationMs: 5 }),
    );
    writeFileSync(join(h.dir, 'old.jsonl'), `${lines.join('\n')}\n{"torn line`);
    const r = await report([join(h.dir, 'old.jsonl'), '--since', '2026-01-15', '--until', '2026-03-01', '--format', 'json']);
    const rep = JSON.parse(r.out) as UsageReport;
    // The torn line is left out, and said.
    expect(r.err).toBe(`idp-egress: warning: ${join(h.dir, 'old.jsonl')}: left out 1 line that is not an audit event (the first at line 4): a line cut by a crash or a full disk, or a file that is not idp-egress's audit log\n`);
    expect(rep.endpoints).toEqual([expect.objectContaining({ endpoint: 'graph.groups.list', calls: 1, firstSeen: '2026-02-01T00:00:00Z' })]);
    expect(rep.since).toBe('2026-01-15T00:00:00.000Z');
  });

  it("says how much of a file that is not the gateway's audit log it left out (a Squid access.log), and rules --from-log says it too", async () => {
    const squid = join(h.dir, 'access.log');
    writeFileSync(squid, '1733461200.123    412 10.20.0.15 TCP_TUNNEL/200 5120 CONNECT graph.microsoft.com:443 - HIER_DIRECT/20.190.151.68 -\n\n'.repeat(3));
    const r = await report([squid]);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/, 0 events\n/);
    expect(r.err).toContain(`idp-egress: warning: ${squid}: left out 3 lines that are not an audit event (the first at line 1)`);
    let err = '';
    const status = await runCli(['rules', '--config', h.configFile, '--format', 'squid', '--from-log', squid], { out: () => undefined, err: (t) => (err += t), cwd: h.dir });
    expect(status).toBe(0);
    expect(err).toContain(`idp-egress: warning: ${squid}: left out 3 lines that are not an audit event (the first at line 1)`);
  });

  it('prints text and markdown, and refuses a bad time', async () => {
    const text = await report([log]);
    expect(text.out).toMatch(/^idp-egress usage report: \d{4}-\d\d-\d\dT[\d:.]+Z to \d{4}-\d\d-\d\dT[\d:.]+Z, \d+ events\n/);
    expect(text.out).toMatch(/^entra-id +graph\.users\.list +3 +3 +0 +0 +0 +0 /m);
    expect(text.out).toMatch(/^Allowed CONNECTs whose tunnel failed:\n\(.*\)\nCOUNT +CODE +HOST .*\n1 +CLIENT_TLS_FAILED +graph\.microsoft\.com +the client ended the TLS handshake/m);
    // The summary comes first, and says what its columns count.
    expect(text.out).toMatch(/^Summary by provider:\n\(All calls in the period: 4 allowed, 3 denied, 1 would deny, 0 failed upstream\./m);
    expect(text.out).toMatch(/^entra-id +3 +2 +0 +0$/m);
    expect(text.out).toMatch(/^127\.0\.0\.1 +4 +3 +1 +0$/m);
    expect(text.out).toContain('CALLS counts the calls the policy allowed');
    const md = await report([log, '--format', 'markdown']);
    expect(md.out).toContain('| 2 | deny | PATH_NOT_ALLOWED | GET | graph.microsoft.com | /v1.0/users/{userid}/drive | - | a site endpoint under entra-id: GET https://graph.microsoft.com/v1.0/users/{userid}/drive |');
    expect(md.out).toMatch(/^\| 1 \| CLIENT_TLS_FAILED \| graph\.microsoft\.com \| the client ended the TLS handshake/m);
    const bad = await report([log, '--since', 'last tuesday']);
    expect(bad.status).toBe(1);
    expect(bad.err).toContain('--since "last tuesday" is neither a date/time');
  });
});

describe('the HTML report', () => {
  it('is one self-contained file: the same sections, a uPlot chart of calls and denials inlined with its data, every log value escaped', async () => {
    const hostile = JSON.stringify({ time: new Date().toISOString(), event: 'request', decision: 'deny', code: 'HOST_NOT_ALLOWED', method: 'GET', url: 'https://evil.example/<b>"hi"</b></script>' });
    writeFileSync(join(h.dir, 'hostile.jsonl'), `${readFileSync(log, 'utf8')}${hostile}\n`);
    const r = await report([join(h.dir, 'hostile.jsonl'), '--format', 'html']);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(r.out).toContain('new uPlot(');
    expect(r.out).toMatch(/"denied":\[\d+\]/);
    expect(r.out).toContain('<td>/&lt;b&gt;&quot;hi&quot;&lt;/b&gt;&lt;/script&gt;</td>');
    expect(r.out).not.toContain('<b>');
    expect(r.out.match(/<\/script>/g)).toHaveLength(2);
    expect(r.out).not.toMatch(/<(?:script|link|img)\s[^>]*(?:src|href)=/);
    expect(r.out).toContain('<td>graph.users.list</td><td class="n">3</td>');
    for (const title of ['Summary by provider', 'Denied and would-be-denied requests', 'Upstream failures', 'Calls the client gave up on', 'Failed token calls', 'Allowed CONNECTs whose tunnel failed', 'Calls per endpoint', 'Enabled endpoints never used in this period']) {
      expect(r.out).toContain(`<h2>${title}</h2>`);
    }
  });
});

describe('path shapes and time bounds', () => {
  it.each([
    ['/v1.0/users/6e7b768e-07e2-4810-8459-485f84f8f204/manager', '/v1.0/users/{id}/manager'],
    ['/v1.0/users/alice_fabrikam.com%23EXT%23@contoso.onmicrosoft.com', '/v1.0/users/{id}'],
    ['/api/v1/users/00ub0oNGTSWTBKOLGLNR/groups', '/api/v1/users/{id}/groups'],
    ['/api/2/users/12345', '/api/2/users/{id}'],
    ['/admin/directory/v1/users/alice%40example.com/photos/thumbnail', '/admin/directory/v1/users/{id}/photos/thumbnail'],
    ['/v1.0/groups', '/v1.0/groups'],
    ['/beta/users/u1/drive', '/beta/users/u1/drive'],
  ])('%s -> %s', (path, shape) => {
    expect(pathShape(path)).toBe(shape);
  });

  it('reads ISO times and spans back from now', () => {
    const now = Date.parse('2026-11-28T12:00:00Z');
    expect(parseTimeBound('24h', now)).toBe(Date.parse('2026-11-27T12:00:00Z'));
    expect(parseTimeBound('7d', now)).toBe(Date.parse('2026-11-21T12:00:00Z'));
    expect(parseTimeBound('2026-11-01', now)).toBe(Date.parse('2026-11-01T00:00:00Z'));
    expect(parseTimeBound('soon', now)).toBeUndefined();
  });
});
