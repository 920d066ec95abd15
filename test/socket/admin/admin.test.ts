import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leafNames } from '../../../src/policy/compile.js';
import { openFilesLimit, planDescriptors } from '../../../src/proxy/descriptors.js';
import { PACKAGE_VERSION } from '../../../src/core/package-root.js';
import { startHarness, viaProxy, type Harness } from '../../support/gateway.js';
import { BOUND_SITE } from '../../support/policy.js';
import { completeResponse, openConnect, readUntil, tlsOver } from '../../support/raw.js';
import { needs } from '../../support/tools.js';

const PROMTOOL = needs(['promtool'], 'apt-get install prometheus (Debian packages promtool with it)');

let h: Harness;
let admin: string;
beforeAll(async () => {
  h = await startHarness();
  admin = `http://127.0.0.1:${h.run.adminAddress!.port}`;
});
afterAll(() => h.close());

async function get(path: string) {
  const res = await request(`${admin}${path}`);
  return { status: res.statusCode, type: String(res.headers['content-type']), body: await res.body.text() };
}

describe('admin listener', () => {
  it('answers /healthz', async () => {
    expect(await get('/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
  });

  it('answers /readyz with each check', async () => {
    const r = await get('/readyz');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ ready: true, checks: { policy: true, ca: true, listener: true, audit: true } });
  });

  it('serves the CA clients must trust at /ca.pem', async () => {
    const r = await get('/ca.pem');
    expect(r).toMatchObject({ status: 200, type: 'application/x-pem-file', body: h.gatewayCaPem });
    expect(r.body).not.toContain('PRIVATE KEY');
  });

  it('counts requests by provider, endpoint, decision and status class in /metrics', async () => {
    // Every intercepted host's leaf is minted at start, none on a request.
    const leaves = leafNames(h.run.policy()).length;
    await expect.poll(async () => (await get('/metrics')).body).toMatch(new RegExp(`^idp_egress_leaf_mints_total ${leaves}$`, 'm'));
    await viaProxy(h, 'https://graph.microsoft.com/v1.0/users');
    await viaProxy(h, 'https://graph.microsoft.com/v1.0/users/u1/drive');
    const r = await get('/metrics');
    expect(r.status).toBe(200);
    expect(r.type).toContain('text/plain');
    expect(r.body).toContain('idp_egress_requests_total{provider="entra-id",endpoint="graph.users.list",decision="allow",code="ALLOWED",status_class="2xx"} 1');
    expect(r.body).toContain('idp_egress_requests_total{provider="entra-id",endpoint="none",decision="deny",code="PATH_NOT_ALLOWED",status_class="4xx"} 1');
    expect(r.body).toMatch(/idp_egress_upstream_duration_seconds_count\{provider="entra-id"\} [1-9]/);
    expect(r.body).toMatch(new RegExp(`^idp_egress_leaf_mints_total ${leaves}$`, 'm'));
    expect(r.body).toMatch(new RegExp(`^idp_egress_leaf_cache_size ${leaves}$`, 'm'));
    expect(r.body).toMatch(/^idp_egress_active_connections \d+$/m);
    expect(r.body).toContain('\nprocess_cpu_seconds_total ');
  });

  it('counts reloads by result', async () => {
    h.run.reload();
    expect((await get('/metrics')).body).toContain('idp_egress_reloads_total{result="ok"} 1');
  });

  it('keeps one family per kind of event, no empty label, the standard process and Node names, and the facts an on-call alerts on', async () => {
    await viaProxy(h, 'https://graph.microsoft.com/v1.0/users');
    const body = (await get('/metrics')).body;
    // CONNECTs apart from the requests inside them: a sum() over either counts one thing.
    expect(body).toMatch(/^idp_egress_connects_total\{provider="entra-id",decision="allow",code="ALLOWED"\} [1-9]\d*$/m);
    expect(body).not.toMatch(/idp_egress_requests_total\{[^}]*event=/);
    expect(body).not.toMatch(/=""/);
    expect(body).toMatch(/^process_cpu_seconds_total /m);
    expect(body).toMatch(/^nodejs_heap_size_used_bytes /m);
    expect(body).not.toMatch(/^idp_egress_(process|nodejs)_/m);
    expect(body).toContain(`idp_egress_build_info{version="${PACKAGE_VERSION}",node="${process.versions.node}"} 1`);
    // The connection limit in force: the default, unless this machine's open-files limit lowers it.
    const limit = planDescriptors(openFilesLimit(readFileSync('/proc/self/limits', 'utf8')), { maxConnections: 1024, maxConnectionsPerClient: 256 }).limits.maxConnections;
    expect(body).toMatch(new RegExp(`^idp_egress_connections_limit ${limit}$`, 'm'));
    expect(body).toMatch(/^idp_egress_audit_unwritable_destinations 0$/m);
    const notAfter = Number(/^idp_egress_ca_not_after_timestamp_seconds (\d+)$/m.exec(body)![1]);
    expect(notAfter).toBe(Date.parse(new X509Certificate(h.gatewayCaPem).validTo) / 1000);
    // The digest the rules files carry.
    const digest = /^idp_egress_config_info\{digest="([0-9a-f]{16})"\} 1$/m.exec(body)![1];
    expect((await get('/rules/hosts')).body).toContain(`config digest ${digest}`);
    expect(body).toMatch(/^idp_egress_config_last_reload_success 1$/m);
    expect(body).toMatch(/^idp_egress_enabled_endpoints\{provider="okta"\} [1-9]\d*$/m);
    expect(body).toMatch(/^idp_egress_audit_lines_total [1-9]\d*$/m);

    // A refused reload: the result says so, and the digest in force stays.
    const config = readFileSync(h.configFile, 'utf8');
    writeFileSync(h.configFile, `${config}\nlisten: not-an-address\n`);
    try {
      expect(h.run.reload().ok).toBe(false);
    } finally {
      writeFileSync(h.configFile, config);
    }
    const after = (await get('/metrics')).body;
    expect(after).toMatch(/^idp_egress_config_last_reload_success 0$/m);
    expect(after).toContain('idp_egress_reloads_total{result="invalid"} 1');
    expect(after).toContain(`idp_egress_config_info{digest="${digest}"} 1`);
    expect(Number(/^idp_egress_config_last_reload_timestamp_seconds (\S+)$/m.exec(after)![1])).toBeGreaterThan(Date.now() / 1000 - 60);
  });

  it.skipIf(PROMTOOL.skip)(`serves an exposition that Prometheus's own promtool check metrics accepts${PROMTOOL.why}`, async () => {
    const body = (await get('/metrics')).body;
    const checked = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
    // It parses (status 1 is a parse error), and it finds nothing in our own families. The three
    // lint findings it does print are prom-client's stock Node gauges, kept under the names the
    // stock dashboards query (nodejs_active_handles_total and its two siblings).
    expect(checked.status).not.toBe(1);
    expect((checked.stdout + checked.stderr).trim().split('\n').sort()).toEqual([
      'nodejs_active_handles_total non-counter metrics should not have "_total" suffix',
      'nodejs_active_requests_total non-counter metrics should not have "_total" suffix',
      'nodejs_active_resources_total non-counter metrics should not have "_total" suffix',
    ]);
    // The check itself can fail: a counter without _total is reported.
    const bad = spawnSync('promtool', ['check', 'metrics'], { input: '# HELP idp_egress_bad A counter\n# TYPE idp_egress_bad counter\nidp_egress_bad 1\n', encoding: 'utf8' });
    expect(bad.stdout + bad.stderr).toContain('counter metrics should have "_total" suffix');
  });

  it('answers unknown paths with 404 and writes with 405', async () => {
    expect((await get('/nope')).status).toBe(404);
    const post = await request(`${admin}/healthz`, { method: 'POST' });
    await post.body.text();
    expect(post.statusCode).toBe(405);
  });
});

describe('admin listener: /rules/<format> under a client polling in a loop', () => {
  it('resolves the hosts at most once per RULES_RESOLVE_TTL_MS for the policy in force, and again after a reload', async () => {
    const asked: string[] = [];
    const g = await startHarness({
      // The harness pins its provider hosts (upstream.resolve), which are never asked for: this
      // site's Keycloak is on a host it does not pin.
      site: BOUND_SITE.replace('https://sso.example.org/auth', 'https://kc.example.net/auth'),
      resolver: async (host) => {
        asked.push(host);
        return [{ address: '192.0.2.7', family: 4 }];
      },
    });
    try {
      const base = `http://127.0.0.1:${g.run.adminAddress!.port}`;
      const fetchRules = async (format: string) => (await request(`${base}/rules/${format}`)).body.text();
      const first = await Promise.all(Array.from({ length: 10 }, () => fetchRules('nftables')));
      const once = asked.length;
      expect(asked).toEqual(['kc.example.net']);
      for (const text of first) expect(text).toContain('192.0.2.7');
      // More polls, and the other address format, within the window: no new lookup.
      for (let i = 0; i < 20; i++) await fetchRules(i % 2 ? 'ipset' : 'nftables');
      expect(asked).toHaveLength(once);
      // A reload is a new policy: the next request resolves for it.
      expect(g.run.reload().ok).toBe(true);
      await fetchRules('nftables');
      expect(asked).toHaveLength(2 * once);
    } finally {
      await g.close();
    }
  });
});

describe('admin listener: the connection gauges', () => {
  it('counts an intercepted tunnel once among the held connections, which the limit and its alert compare, and twice among the active ones', async () => {
    const g = await startHarness();
    try {
      const { socket } = await openConnect(g.run.address.port, 'graph.microsoft.com:443');
      const tls = await tlsOver(socket, 'graph.microsoft.com', g.gatewayCaPem);
      tls.write('GET /v1.0/users HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\n');
      expect(await readUntil(tls, completeResponse)).toMatch(/^HTTP\/1\.1 200 /);
      const body = await (await request(`http://127.0.0.1:${g.run.adminAddress!.port}/metrics`)).body.text();
      expect(body).toMatch(/^idp_egress_held_connections 1$/m);
      expect(body).toMatch(/^idp_egress_active_connections 2$/m);
      tls.destroy();
    } finally {
      await g.close();
    }
  });
});
