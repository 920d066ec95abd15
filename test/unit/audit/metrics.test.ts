import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../../../src/audit/metrics.js';
import type { Outcome } from '../../../src/audit/outcome.js';
import type { Decision } from '../../../src/policy/decide.js';

const SOURCES = { activeConnections: () => 0, activeRequests: () => 0, leafCacheSize: () => 0, evictedConnections: () => 0, flushOutcomes: () => undefined, enabledEndpoints: () => new Map(), caNotAfter: 0, version: 'test' };

const allowed: Decision = { action: 'allow', code: 'ALLOWED', reason: 'r', mode: 'enforce', provider: 'entra-id', endpoint: 'graph.users.list' };
const denied: Decision = { action: 'deny', code: 'PATH_NOT_ALLOWED', reason: 'r', mode: 'enforce', provider: 'entra-id' };

function outcome(kind: Outcome['kind'], decision: Decision | undefined, fields: Partial<Outcome> = {}): Outcome {
  return { id: 'i', kind, client: '127.0.0.1', method: 'GET', url: 'u', code: decision?.code ?? 'TOO_MANY_CONNECTIONS', decision, enforced: decision?.action === 'deny' || !decision, status: 200, tls: 'intercept', reason: 'r', durationMs: 12, time: 0, ...fields };
}

describe('metrics from a batch of outcomes', () => {
  it('counts each label set once per outcome however the batch mixes them, and sums the body bytes', async () => {
    const metrics = new GatewayMetrics(SOURCES, 'digest');
    const ok = (n: number) => Array.from({ length: n }, () => outcome('request', allowed, { bytesIn: 10, bytesOut: 1000 }));
    metrics.recordAll([...ok(3), outcome('request', denied, { status: 403 }), ...ok(2), outcome('connect', allowed), outcome('connection', undefined, { status: 503 })]);
    metrics.recordAll(ok(1));
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
});
