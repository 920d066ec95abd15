// deploy/prometheus: the sample alerting rules load in Prometheus's own promtool, their unit
// tests pass (each alert fires on the series that should raise it and not on the others), a
// broken threshold makes those tests fail, and every metric they read is one the gateway serves.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../../../src/audit/metrics.js';
import { PACKAGE_ROOT } from '../../../src/core/package-root.js';
import { needs } from '../../support/tools.js';

const DIR = join(PACKAGE_ROOT, 'deploy/prometheus');
const RULES = join(DIR, 'idp-egress-alerts.yaml');
const PROMTOOL = needs(['promtool'], 'apt-get install prometheus (Debian packages promtool with it)');

const promtool = (args: string[], cwd = DIR) => {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
};

describe('deploy/prometheus/idp-egress-alerts.yaml', () => {
  it.skipIf(PROMTOOL.skip)(`loads in promtool check rules${PROMTOOL.why}`, () => {
    const r = promtool(['check', 'rules', RULES]);
    expect(r.out).toContain('SUCCESS: 8 rules found');
    expect(r.status).toBe(0);
  });

  it.skipIf(PROMTOOL.skip)(`passes its promtool unit tests, which fail when a threshold is wrong${PROMTOOL.why}`, () => {
    const r = promtool(['test', 'rules', 'idp-egress-alerts.test.yaml']);
    expect(r.out).toContain('SUCCESS');
    expect(r.status).toBe(0);
    const broken = mkdtempSync(join(tmpdir(), 'alerts-'));
    cpSync(DIR, broken, { recursive: true });
    const rules = join(broken, 'idp-egress-alerts.yaml');
    writeFileSync(rules, readFileSync(rules, 'utf8').replace('< 14 * 86400', '< 7 * 86400'));
    const failed = promtool(['test', 'rules', 'idp-egress-alerts.test.yaml'], broken);
    expect(failed.status).not.toBe(0);
    expect(failed.out).toContain('alertname: IdpEgressCaExpiringSoon');
  });

  it('reads only metrics the gateway serves', () => {
    const metrics = new GatewayMetrics(
      { activeConnections: () => 0, activeRequests: () => 0, leafCacheSize: () => 0, evictedConnections: () => 0, heldConnections: () => 0, connectionLimit: 1024, unwritableAudit: () => 0, flushOutcomes: () => undefined, enabledEndpoints: () => new Map(), caNotAfter: 0, version: 'test' },
      'digest',
    );
    metrics.syslogMetrics(() => ({ connected: true, queued: 0, spooledEvents: 0, spooledBytes: 0, downSeconds: 0 }));
    const served = new Set(metrics.registry.getMetricsAsArray().map((m) => m.name));
    const read = [...readFileSync(RULES, 'utf8').matchAll(/\b(idp_egress_[a-z_]+)\b/g)].map((m) => m[1]!);
    expect(read.length).toBeGreaterThan(5);
    expect([...new Set(read)].filter((name) => !served.has(name))).toEqual([]);
  });
});
