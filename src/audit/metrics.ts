import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { ProviderHistogram } from './latency-histogram.js';
import { outcomeDecision, type Outcome } from './outcome.js';
import type { OutcomeSink } from './outcome-batch.js';
import type { SyslogCounters } from './syslog.js';

export interface MetricSources {
  readonly activeConnections: () => number;
  readonly activeRequests: () => number;
  readonly leafCacheSize: () => number;
  /** Connections closed to make room for a new client, since start. */
  readonly evictedConnections: () => number;
  /** Client connections the connection table holds (an intercepted tunnel once), which connectionLimit bounds. */
  readonly heldConnections: () => number;
  /** Client connections held at most: limits.maxConnections, or fewer under a low open-files limit (descriptors.ts). */
  readonly connectionLimit: number;
  /** Audit destinations (stdout, the file) not being written now. */
  readonly unwritableAudit: () => number;
  /** Hands over outcomes still waiting for their batch, so a scrape counts every finished request. */
  readonly flushOutcomes: () => void;
  /** Endpoints in force per provider, enabled providers only (read at a scrape: a reload changes them). */
  readonly enabledEndpoints: () => ReadonlyMap<string, number>;
  /** The interception CA's notAfter, seconds since the epoch. */
  readonly caNotAfter: number;
  readonly version: string;
}

/** A label value for what an outcome does not have (no provider for an unknown host): never empty. */
const NONE = 'none';

/**
 * Prometheus metrics from the outcome stream, one family per kind of event so that a sum()
 * counts one thing: requests, CONNECTs, spliced tunnels, connections refused before a request.
 * Every label set is bounded: provider and endpoint come from the packs and the site's config,
 * decision, code and status class from small enums; never a host from a wildcard rule, a path or
 * a client address. Process and Node metrics keep their standard names (process_*, nodejs_*),
 * so stock dashboards and alerts read them.
 */
export class GatewayMetrics implements OutcomeSink {
  readonly registry = new Registry();
  private readonly requests: Counter<'provider' | 'endpoint' | 'decision' | 'code' | 'status_class'>;
  private readonly connects: Counter<'provider' | 'decision' | 'code'>;
  private readonly tunnels: Counter<'provider' | 'decision' | 'code'>;
  private readonly rejectedConnections: Counter<'code'>;
  private readonly upstreamSeconds: ProviderHistogram;
  private readonly bytes: Counter<'direction'>;
  private readonly requestTally: LabelSetTally;
  private readonly connectTally: LabelSetTally;
  private readonly tunnelTally: LabelSetTally;
  private readonly rejectionTally: LabelSetTally;
  /** Body bytes recorded since the last commit. */
  private bytesIn = 0;
  private bytesOut = 0;
  readonly mints: Counter;
  private readonly reloads: Counter<'result'>;
  private readonly lastReload: Gauge;
  private readonly lastReloadSuccess: Gauge;
  private readonly configInfo: Gauge<'digest'>;
  readonly summarised: Counter<'code'>;
  readonly auditLines: Counter;
  readonly auditDroppedLines: Counter;

  constructor(private readonly sources: MetricSources, configDigest: string) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'idp_egress_requests_total',
      help: 'HTTP requests judged (intercepted, or sent to the gateway as absolute URLs) by provider, endpoint, decision (allow, deny, would_deny), code and status class',
      labelNames: ['provider', 'endpoint', 'decision', 'code', 'status_class'],
      registers,
    });
    this.connects = new Counter({ name: 'idp_egress_connects_total', help: 'CONNECT requests by provider, decision and code', labelNames: ['provider', 'decision', 'code'], registers });
    this.tunnels = new Counter({ name: 'idp_egress_tunnels_total', help: 'Spliced (tunnel-mode) tunnels that ended, by provider, decision (allow, would_deny) and code', labelNames: ['provider', 'decision', 'code'], registers });
    this.rejectedConnections = new Counter({
      name: 'idp_egress_rejected_connections_total',
      help: 'Client connections refused or closed before any request could be judged, by code (CLIENT_NOT_ALLOWED, TOO_MANY_CONNECTIONS, REQUEST_TIMEOUT, ...)',
      labelNames: ['code'],
      registers,
    });
    this.upstreamSeconds = new ProviderHistogram({
      name: 'idp_egress_upstream_duration_seconds',
      help: 'Time from the request to the end of the forwarded response, by provider',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.requestTally = new LabelSetTally(this.requests, ['provider', 'endpoint', 'decision', 'code', 'status_class']);
    this.connectTally = new LabelSetTally(this.connects, ['provider', 'decision', 'code']);
    this.tunnelTally = new LabelSetTally(this.tunnels, ['provider', 'decision', 'code']);
    this.rejectionTally = new LabelSetTally(this.rejectedConnections, ['code']);
    this.bytes = new Counter({ name: 'idp_egress_body_bytes_total', help: 'Body bytes forwarded, by direction (in: from clients, out: to clients)', labelNames: ['direction'], registers });
    this.mints = new Counter({ name: 'idp_egress_leaf_mints_total', help: 'Leaf certificates minted (cache misses)', registers });
    this.reloads = new Counter({ name: 'idp_egress_reloads_total', help: 'Policy reloads (SIGHUP) by result (ok, invalid)', labelNames: ['result'], registers });
    this.lastReload = new Gauge({ name: 'idp_egress_config_last_reload_timestamp_seconds', help: 'When the config was last loaded: at start, then at each reload, whatever its result', registers });
    this.lastReloadSuccess = new Gauge({ name: 'idp_egress_config_last_reload_success', help: '1 if the last load of the config succeeded; 0 if the last reload was refused (the previous config stays in force)', registers });
    this.configInfo = new Gauge({ name: 'idp_egress_config_info', help: 'The config and packs in force, by digest (the rules files carry the same one); always 1', labelNames: ['digest'], registers });
    this.summarised = new Counter({
      name: 'idp_egress_audit_summarised_total',
      help: 'Rejections counted into an audit summary line ("N more like this") instead of written one by one, by code',
      labelNames: ['code'],
      registers,
    });
    this.auditLines = new Counter({ name: 'idp_egress_audit_lines_total', help: 'Audit lines written (events and summary lines), to every destination the log has: stdout, its file, the syslog collector', registers });
    this.auditDroppedLines = new Counter({
      name: 'idp_egress_audit_dropped_lines_total',
      help: 'Audit lines dropped because stdout or the audit file could not be written (a full disk) for so long that the lines kept for it reached their bound',
      registers,
    });
    new Gauge({ name: 'idp_egress_build_info', help: 'The running version and Node.js; always 1', labelNames: ['version', 'node'], registers }).set({ version: sources.version, node: process.versions.node }, 1);
    new Gauge({ name: 'idp_egress_ca_not_after_timestamp_seconds', help: "The interception CA's expiry (notAfter); clients stop trusting the gateway after it", registers }).set(sources.caNotAfter);
    new Gauge({
      name: 'idp_egress_enabled_endpoints',
      help: 'Endpoints in force per enabled provider (pack and site endpoints)',
      labelNames: ['provider'],
      registers,
      collect() {
        this.reset();
        for (const [provider, n] of sources.enabledEndpoints()) this.set({ provider }, n);
      },
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
    new Gauge({
      name: 'idp_egress_held_connections',
      help: 'Client connections the gateway holds as limits.maxConnections counts them (an intercepted tunnel once, where idp_egress_active_connections counts it with its TLS socket); compare with idp_egress_connections_limit',
      registers,
      collect() {
        this.set(sources.heldConnections());
      },
    });
    new Gauge({
      name: 'idp_egress_connections_limit',
      help: "Client connections the gateway holds at most: limits.maxConnections, or fewer when the process's open-files limit cannot carry it",
      registers,
    }).set(sources.connectionLimit);
    new Gauge({
      name: 'idp_egress_audit_unwritable_destinations',
      help: 'Audit destinations (stdout, the file) that cannot be written now: a failed write (a full disk) or a backlog (a reader that stopped); /readyz says audit false meanwhile',
      registers,
      collect() {
        this.set(sources.unwritableAudit());
      },
    });
    new Gauge({ name: 'idp_egress_active_requests', help: 'Requests and tunnel splices in progress', registers, collect() { this.set(sources.activeRequests()); } });
    new Gauge({ name: 'idp_egress_leaf_cache_size', help: 'Minted leaf certificates held in the cache', registers, collect() { this.set(sources.leafCacheSize()); } });
    for (const result of ['ok', 'invalid']) this.reloads.inc({ result }, 0);
    this.configLoaded(true, configDigest);
  }

  /** A load of the config: at start, and at each reload. A refused reload keeps the digest in force. */
  configLoaded(ok: boolean, digest: string | undefined, reload = false): void {
    if (reload) this.reloads.inc({ result: ok ? 'ok' : 'invalid' });
    this.lastReload.set(Date.now() / 1000);
    this.lastReloadSuccess.set(ok ? 1 : 0);
    if (ok && digest !== undefined) {
      this.configInfo.reset();
      this.configInfo.set({ digest }, 1);
    }
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

  /**
   * Outcomes counted by label set as they come, then one inc per set touched at the commit:
   * prom-client validates and hashes the labels on every inc, and a commit at concurrency 1
   * covers up to 64 outcomes (COMMIT_EVERY) of a handful of sets. Every label value here is a
   * string the policy or the code catalogue holds (never one built per request), so finding its
   * count costs a few Map lookups of strings whose hashes V8 already keeps.
   */
  recordAll(outcomes: readonly Outcome[]): void {
    for (const o of outcomes) {
      const provider = o.decision?.provider ?? NONE;
      const decision = outcomeDecision(o);
      switch (o.kind) {
        case 'request':
          this.requestTally.add(provider, o.decision?.endpoint ?? NONE, decision, o.code, statusClass(o.status));
          if (!o.enforced && o.decision?.provider) this.upstreamSeconds.record(o.decision.provider, o.durationMs / 1000);
          break;
        case 'connect':
          this.connectTally.add(provider, decision, o.code);
          break;
        case 'tunnel':
          this.tunnelTally.add(provider, decision, o.code);
          break;
        case 'connection':
          this.rejectionTally.add(o.code);
          break;
      }
      this.bytesIn += o.bytesIn ?? 0;
      this.bytesOut += o.bytesOut ?? 0;
    }
  }

  commit(): void {
    this.requestTally.flush();
    this.connectTally.flush();
    this.tunnelTally.flush();
    this.rejectionTally.flush();
    if (this.bytesIn) this.bytes.inc({ direction: 'in' }, this.bytesIn);
    if (this.bytesOut) this.bytes.inc({ direction: 'out' }, this.bytesOut);
    this.bytesIn = 0;
    this.bytesOut = 0;
  }
}

/** The status_class label: the class's own string, so that no label value is built per request. */
const STATUS_CLASSES = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;
function statusClass(status: number | undefined): string {
  return status === undefined ? NONE : (STATUS_CLASSES[Math.floor(status / 100)] ?? `${Math.floor(status / 100)}xx`);
}

interface Tallied {
  readonly labels: Readonly<Record<string, string>>;
  n: number;
}
type TallyLevel = Map<string, TallyLevel | Tallied>;

/**
 * Counts per label set between flushes, found through one Map per label, in the counter's label
 * order. The entries stay (their number is the counter's own label cardinality, which
 * prom-client keeps as well); a flush incs the ones counted since the last and zeroes them.
 */
class LabelSetTally {
  private readonly root: TallyLevel = new Map();
  private readonly counted: Tallied[] = [];

  constructor(private readonly counter: Counter<string>, private readonly labelNames: readonly string[]) {}

  add(...values: string[]): void {
    let level = this.root;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      let next = level.get(values[i]!) as TallyLevel | undefined;
      if (!next) level.set(values[i]!, (next = new Map()));
      level = next;
    }
    let entry = level.get(values[last]!) as Tallied | undefined;
    if (!entry) level.set(values[last]!, (entry = { labels: Object.fromEntries(this.labelNames.map((name, i) => [name, values[i]!])), n: 0 }));
    if (entry.n++ === 0) this.counted.push(entry);
  }

  flush(): void {
    for (const entry of this.counted) {
      this.counter.inc(entry.labels, entry.n);
      entry.n = 0;
    }
    this.counted.length = 0;
  }
}
