import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leafNames } from '../../../src/policy/compile.js';
import { startHarness, viaProxy, type Harness } from '../../support/gateway.js';

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
    expect(JSON.parse(r.body)).toEqual({ ready: true, checks: { policy: true, ca: true, listener: true } });
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
    expect(r.body).toContain('idp_egress_requests_total{event="request",provider="entra-id",endpoint="graph.users.list",decision="allow",code="ALLOWED",status_class="2xx"} 1');
    expect(r.body).toContain('idp_egress_requests_total{event="request",provider="entra-id",endpoint="",decision="deny",code="PATH_NOT_ALLOWED",status_class="4xx"} 1');
    expect(r.body).toMatch(/idp_egress_upstream_duration_seconds_count\{provider="entra-id"\} [1-9]/);
    expect(r.body).toMatch(new RegExp(`^idp_egress_leaf_mints_total ${leaves}$`, 'm'));
    expect(r.body).toMatch(new RegExp(`^idp_egress_leaf_cache_size ${leaves}$`, 'm'));
    expect(r.body).toMatch(/^idp_egress_active_connections \d+$/m);
    expect(r.body).toContain('idp_egress_process_cpu_seconds_total');
  });

  it('counts reloads by result', async () => {
    h.run.reload();
    expect((await get('/metrics')).body).toContain('idp_egress_reloads_total{result="ok"} 1');
  });

  it('answers unknown paths with 404 and writes with 405', async () => {
    expect((await get('/nope')).status).toBe(404);
    const post = await request(`${admin}/healthz`, { method: 'POST' });
    await post.body.text();
    expect(post.statusCode).toBe(405);
  });
});
