import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../../../src/audit/metrics.js';
import type { Outcome } from '../../../src/audit/outcome.js';
import type { Decision } from '../../../src/policy/decide.js';

const SOURCES = { activeConnections: () => 0, activeRequests: () => 0, leafCacheSize: () => 0, evictedConnections: () => 0, heldConnections: () => 0, connectionLimit: 1024, unwritableAudit: () => 0, flushOutcomes: () => undefined, enabledEndpoints: () => new Map(), caNotAfter: 0, version: 'test' };

const allowed: Decision = { action: 'allow', code: 'ALLOWED', reason: 'r', mode: 'enforce', provider: 'entra-id', endpoint: 'graph.users.list' };
const denied: Decision = { action: 'deny', code: 'PATH_NOT_ALLOWED', reason: 'r', mode: 'enforce', provider: 'entra-id' };

function outcome(kind: Outcome['kind'], decision: Decision | undefined, fields: Partial<Outcome> = {}): Outcome {
  return { id: 'i', kind, client: '127.0.0.1', method: 'GET', url: 'u', code: decision?.code ?? 'TOO_MANY_CONNECTIONS', decision, enforced: decision?.action === 'deny' || !decision, status: 200, tls: 'intercept', reason: 'r', durationMs: 12, time: 0, ...fields };
}

describe('metrics from outcomes, recorded then committed', () => {
  it('counts each label set once per outcome however the records mix them, and sums the body bytes, at the commit', async () => {
    const metrics = new GatewayMetrics(SOURCES, 'digest');
    const ok = (n: number) => Array.from({ length: n }, () => outcome('request', allowed, { bytesIn: 10, bytesOut: 1000 }));
    metrics.recordAll([...ok(3), outcome('request', denied, { status: 403 }), ...ok(2), outcome('connect', allowed), outcome('connection', undefined, { status: 503 })]);
    metrics.recordAll(ok(1));
    expect(await metrics.registry.metrics()).not.toMatch(/^idp_egress_requests_total\{/m);
    metrics.commit();
    metrics.commit();
    const text = await metrics.registry.metrics();
    expect(text).toContain('idp_egress_requests_total{provider="entra-id",endpoint="graph.users.list",decision="allow",code="ALLOWED",status_class="2xx"} 6');
    expect(text).toContain('idp_egress_requests_total{provider="entra-id",endpoint="none",decision="deny",code="PATH_NOT_ALLOWED",status_class="4xx"} 1');
    expect(text).toContain('idp_egress_connects_total{provider="entra-id",decision="allow",code="ALLOWED"} 1');
    expect(text).toContain('idp_egress_rejected_connections_total{code="TOO_MANY_CONNECTIONS"} 1');
    expect(text).toContain('idp_egress_body_bytes_total{direction="in"} 60');
    expect(text).toContain('idp_egress_body_bytes_total{direction="out"} 6000');
    // Forwarded calls only: the denial never reached the provider.
    expect(text).toMatch(/^idp_egress_upstream_duration_seconds_count\{provider="entra-id"\} 6$/m);
  });

  it('counts the same however the outcomes are split into records and commits, for any mix of kinds, decisions and statuses', async () => {
    const decisions: (Decision | undefined)[] = [allowed, denied, undefined, { ...allowed, provider: 'okta', endpoint: 'okta.users.list' }, { ...denied, code: 'HOST_NOT_ALLOWED', provider: undefined }];
    const anyOutcome = fc.record({
      kind: fc.constantFrom<Outcome['kind']>('request', 'connect', 'tunnel', 'connection'),
      decision: fc.constantFrom(...decisions),
      status: fc.option(fc.integer({ min: 100, max: 599 }), { nil: undefined }),
      observe: fc.boolean(),
    }).map(({ kind, decision, status, observe }) => outcome(kind, decision, { status, enforced: decision?.action === 'deny' && !observe }));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.array(anyOutcome, { maxLength: 12 }), fc.boolean()), { maxLength: 6 }), async (records) => {
        const metrics = new GatewayMetrics(SOURCES, 'digest');
        for (const [batch, commitAfter] of records) {
          metrics.recordAll(batch);
          if (commitAfter) metrics.commit();
        }
        metrics.commit();
        const batches = records.map(([batch]) => batch);
        const expected = new Map<string, number>();
        for (const o of batches.flat()) {
          const provider = o.decision?.provider ?? 'none';
          const decision = o.enforced ? 'deny' : o.decision?.action === 'deny' ? 'would_deny' : 'allow';
          const line = {
            request: `idp_egress_requests_total{provider="${provider}",endpoint="${o.decision?.endpoint ?? 'none'}",decision="${decision}",code="${o.code}",status_class="${o.status === undefined ? 'none' : `${Math.floor(o.status / 100)}xx`}"}`,
            connect: `idp_egress_connects_total{provider="${provider}",decision="${decision}",code="${o.code}"}`,
            tunnel: `idp_egress_tunnels_total{provider="${provider}",decision="${decision}",code="${o.code}"}`,
            connection: `idp_egress_rejected_connections_total{code="${o.code}"}`,
          }[o.kind];
          expected.set(line, (expected.get(line) ?? 0) + 1);
        }
        const counted = (await metrics.registry.metrics()).split('\n').filter((l) => /^idp_egress_(requests|connects|tunnels|rejected_connections)_total\{/.test(l));
        expect(counted.sort()).toEqual([...expected].map(([line, n]) => `${line} ${n}`).sort());
      }),
      { numRuns: 200 },
    );
  });
});
