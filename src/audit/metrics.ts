import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { outcomeDecision, type Outcome } from './outcome.js';
import type { OutcomeSink } from './outcome-batch.js';
import type { SyslogCounters } from './syslog.js';

export interface MetricSources {
  readonly activeConnections: () => number;
  readonly activeRequests: () => number;
  readonly leafCacheSize: () => number;
  /** Connections closed to make room for a new client, since start. */
  readonly evictedConnections: () => number;
  /** Hands over outcomes still waiting for their batch, so a scrape counts every finished request. */
  readonly flushOutcomes: () => void;
}

/**
 * Prometheus metrics from the outcome stream. Every label set is bounded: provider and
 * endpoint come from the packs, decision and status class from small enums; never a host from
 * a wildcard rule, a path or a client address.
 */
export class GatewayMetrics implements OutcomeSink {
  readonly registry = new Registry();
  private readonly requests: Counter<'event' | 'provider' | 'endpoint' | 'decision' | 'code' | 'status_class'>;
  private readonly upstreamSeconds: Histogram<'provider'>;
  private readonly bytes: Counter<'direction'>;
  readonly mints: Counter;
  readonly reloads: Counter<'result'>;
  readonly summarised: Counter<'code'>;

  constructor(private readonly sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'idp_egress_' });
    this.requests = new Counter({
      name: 'idp_egress_requests_total',
      help: 'Requests, CONNECTs and tunnels (event) by provider, endpoint, decision (allow, deny, would_deny), code and status class',
      labelNames: ['event', 'provider', 'endpoint', 'decision', 'code', 'status_class'],
      registers,
    });
    this.upstreamSeconds = new Histogram({
      name: 'idp_egress_upstream_duration_seconds',
      help: 'Time from the request to the end of the forwarded response, by provider',
      labelNames: ['provider'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.bytes = new Counter({ name: 'idp_egress_body_bytes_total', help: 'Body bytes forwarded, by direction (in: from clients, out: to clients)', labelNames: ['direction'], registers });
    this.mints = new Counter({ name: 'idp_egress_leaf_mints_total', help: 'Leaf certificates minted (cache misses)', registers });
    this.reloads = new Counter({ name: 'idp_egress_reloads_total', help: 'Policy reloads by result (ok, invalid)', labelNames: ['result'], registers });
    this.summarised = new Counter({
      name: 'idp_egress_audit_summarised_total',
      help: 'Rejections counted into an audit summary line ("N more like this") instead of written one by one, by code',
      labelNames: ['code'],
      registers,
    });
    new Counter({
      name: 'idp_egress_connections_evicted_total',
      help: 'Idle client connections closed to make room for a new client at limits.maxConnections',
      registers,
      collect() {
        this.reset();
        this.inc(sources.evictedConnections());
      },
    });
    new Gauge({ name: 'idp_egress_active_connections', help: 'Open client connections and tunnels', registers, collect() { this.set(sources.activeConnections()); } });
    new Gauge({ name: 'idp_egress_active_requests', help: 'Requests and tunnel splices in progress', registers, collect() { this.set(sources.activeRequests()); } });
    new Gauge({ name: 'idp_egress_leaf_cache_size', help: 'Minted leaf certificates held in the cache', registers, collect() { this.set(sources.leafCacheSize()); } });
  }

  /**
   * The syslog delivery's metrics (only with log.syslog set): its counters, to hand to it, and
   * gauges read from it at a scrape.
   */
  syslogMetrics(state: () => { readonly connected: boolean; readonly queued: number; readonly spooledEvents: number; readonly spooledBytes: number; readonly downSeconds: number }): SyslogCounters {
    const registers = [this.registry];
    const delivered = new Counter({ name: 'idp_egress_syslog_delivered_events_total', help: 'Audit events the collector has read: pushed past the replay window, or confirmed by a clean close', registers });
    const dropped = new Counter({ name: 'idp_egress_syslog_dropped_events_total', help: 'Audit events dropped before delivery, by reason (disk_full: the spool bound; corrupt: a torn record in the spool)', labelNames: ['reason'], registers });
    const replayed = new Counter({ name: 'idp_egress_syslog_replayed_events_total', help: 'Audit events sent again after a lost connection (the at-least-once window)', registers });
    new Gauge({ name: 'idp_egress_syslog_connected', help: '1 while connected to the collector', registers, collect() { this.set(state().connected ? 1 : 0); } });
    new Gauge({ name: 'idp_egress_syslog_down_seconds', help: 'How long the collector has been unreachable (0 while connected)', registers, collect() { this.set(state().downSeconds); } });
    new Gauge({ name: 'idp_egress_syslog_queued_events', help: 'Audit events in memory waiting for (or not yet confirmed by) the collector', registers, collect() { this.set(state().queued); } });
    new Gauge({ name: 'idp_egress_syslog_spooled_events', help: 'Audit events in the on-disk spool', registers, collect() { this.set(state().spooledEvents); } });
    new Gauge({ name: 'idp_egress_syslog_spooled_bytes', help: 'Bytes of the on-disk spool', registers, collect() { this.set(state().spooledBytes); } });
    for (const reason of ['disk_full', 'corrupt']) dropped.inc({ reason }, 0);
    return {
      delivered: (n) => delivered.inc(n),
      dropped: (reason, n) => dropped.inc({ reason }, n),
      replayed: (n) => replayed.inc(n),
    };
  }

  /** The Prometheus text of every metric, after the outcomes still pending are counted. */
  async scrape(): Promise<string> {
    this.sources.flushOutcomes();
    return this.registry.metrics();
  }

  recordAll(outcomes: readonly Outcome[]): void {
    for (const o of outcomes) this.record(o);
  }

  private record(o: Outcome): void {
    const decision = outcomeDecision(o);
    const statusClass = o.status === undefined ? 'none' : `${Math.floor(o.status / 100)}xx`;
    this.requests.inc({ event: o.kind, provider: o.decision?.provider ?? '', endpoint: o.decision?.endpoint ?? '', decision, code: o.code, status_class: statusClass });
    if (!o.enforced && o.kind === 'request' && o.decision?.provider) this.upstreamSeconds.observe({ provider: o.decision.provider }, o.durationMs / 1000);
    if (o.bytesIn) this.bytes.inc({ direction: 'in' }, o.bytesIn);
    if (o.bytesOut) this.bytes.inc({ direction: 'out' }, o.bytesOut);
  }
}
