import { CALL_RESULTS, callResult } from '../audit/outcome.js';
import type { SiteConfig } from '../config/schema.js';
import type { Endpoint, Policy } from '../policy/model.js';
import { judge } from '../policy/judge.js';
import type { Pack } from '../policy/pack.js';
import { splitTarget, templateShape } from './path-shape.js';
import { inWindow, type ReportWindow } from './read-logs.js';
import { SuggestionBuilder } from './suggest.js';

export interface EndpointUsage {
  readonly provider: string;
  readonly endpoint: string;
  /** A site endpoint: where the config defines it (the audit event's `site`). */
  readonly site: string | undefined;
  calls: number;
  readonly byStatusClass: Record<string, number>;
  errors: number;
  denied: number;
  wouldDeny: number;
  firstSeen: string;
  lastSeen: string;
  bytesIn: number;
  bytesOut: number;
  readonly durations: number[];
}

export interface DeniedGroup {
  readonly host: string;
  readonly shape: string;
  readonly method: string;
  readonly code: string;
  readonly decision: 'deny' | 'would_deny';
  count: number;
  firstSeen: string;
  lastSeen: string;
  /** A shipped pack entry that would allow it (if the provider were on and bound), if any. */
  readonly packEntry: string | undefined;
  /** The config change that would allow it, as report --suggest says it, or why none should. */
  change: string | undefined;
  /** The first such call, to work out the change from. */
  readonly sample: string;
  readonly event: string;
}

/** Calls the policy allowed that failed on the provider side, by provider, endpoint and code. */
export interface UpstreamFailureGroup {
  readonly provider: string;
  readonly endpoint: string;
  readonly code: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  reason: string;
}

/**
 * Allowed calls the client closed before their response was complete (CLIENT_CLOSED): usually
 * the app's own read timeout while the provider was slow, so how long they had run is the point.
 */
export interface AbandonedCallGroup {
  readonly provider: string;
  readonly endpoint: string;
  count: number;
  /** The longest any of them ran before the client left, in ms. */
  longestMs: number;
  firstSeen: string;
  lastSeen: string;
}

/** Token requests that came back with an error: what support asks for first, never a secret. */
export interface TokenFailureGroup {
  readonly provider: string;
  readonly endpoint: string;
  readonly clientId: string | undefined;
  readonly grantType: string | undefined;
  readonly error: string;
  /** Entra's AADSTS numbers. */
  readonly codes: readonly number[];
  count: number;
  firstSeen: string;
  lastSeen: string;
  /** The latest trace and correlation ids, to quote to the provider's support. */
  traceId: string | undefined;
  correlationId: string | undefined;
}

/** Allowed, denied, would-deny and failed-upstream calls: one row of the summary. */
export interface Tally {
  allowed: number;
  denied: number;
  wouldDeny: number;
  failed: number;
}

/**
 * Allowed CONNECTs whose tunnel then failed: a client that rejected the gateway's certificate
 * (CLIENT_TLS_FAILED, the JVM's "PKIX path building failed") or a provider a tunnel-mode
 * CONNECT could not reach. No request follows them, so no other section shows them.
 */
export interface FailedTunnelGroup {
  readonly host: string;
  readonly code: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  /** The reason of the latest such event. */
  reason: string;
}

export interface UsageReport {
  readonly since: string | undefined;
  readonly until: string | undefined;
  /** The first and last event counted: the period the logs really cover. */
  readonly first: string | undefined;
  readonly last: string | undefined;
  readonly events: number;
  readonly summary: {
    readonly total: Tally;
    readonly byProvider: readonly (Tally & { readonly provider: string })[];
    /** The busiest client addresses; the rest as one row, client "others". */
    readonly byClient: readonly (Tally & { readonly client: string })[];
  };
  /** Calls per bucket (an hour, or a day past three days): allowed, denied, would-deny, failed. */
  readonly timeline: { readonly bucketMs: number; readonly t: readonly number[]; readonly allowed: readonly number[]; readonly denied: readonly number[]; readonly wouldDeny: readonly number[]; readonly failed: readonly number[] };
  readonly upstreamFailures: readonly UpstreamFailureGroup[];
  readonly abandoned: readonly AbandonedCallGroup[];
  readonly tokenFailures: readonly TokenFailureGroup[];
  /** Allowed calls per endpoint per hour (epoch ms of the hour's start), for charts. */
  readonly hourly: readonly { readonly endpoint: string; readonly hours: readonly (readonly [number, number])[] }[];
  readonly endpoints: readonly (Omit<EndpointUsage, 'durations'> & { p50Ms: number | undefined; p95Ms: number | undefined })[];
  readonly unused: readonly Pick<Endpoint, 'provider' | 'id' | 'source' | 'site' | 'reason'>[];
  readonly denied: readonly DeniedGroup[];
  readonly failedTunnels: readonly FailedTunnelGroup[];
}

/** Client addresses the summary names one by one; the rest are summed as "others". */
const CLIENT_ROWS = 50;
/**
 * Client addresses counted one by one while reading: past it, new ones share one tally, so a log
 * full of addresses (an IPv6 prefix walking through the gateway for a week) cannot grow the
 * report without bound.
 */
const CLIENTS_TRACKED = 10_000;
const OTHER_CLIENTS = 'others';
const HOUR = 3_600_000;
const DAY = 86_400_000;


/**
 * Aggregates audit events into the usage report, one event at a time, so memory grows with the
 * number of endpoints, denial shapes, clients and hours, not with the log. `reference` is the
 * policy with every pack on and unbound, to name the entry that would allow a denied call; with
 * `suggest`, each denial group also gets the config change report --suggest would print.
 */
export class UsageAggregator {
  private readonly usage = new Map<string, EndpointUsage>();
  private readonly denied = new Map<string, DeniedGroup>();
  private readonly failedTunnels = new Map<string, FailedTunnelGroup>();
  private readonly upstreamFailures = new Map<string, UpstreamFailureGroup>();
  private readonly abandoned = new Map<string, AbandonedCallGroup>();
  private readonly tokenFailures = new Map<string, TokenFailureGroup>();
  private readonly hourly = new Map<string, Map<number, number>>();
  /** Per hour: a count per CALL_RESULTS. */
  private readonly timeline = new Map<number, number[]>();
  private readonly byProvider = new Map<string, Tally>();
  private readonly byClient = new Map<string, Tally>();
  private readonly total: Tally = { allowed: 0, denied: 0, wouldDeny: 0, failed: 0 };
  private first: string | undefined;
  private last: string | undefined;
  private count = 0;

  constructor(
    private readonly policy: Policy,
    private readonly reference: Policy,
    private readonly window: ReportWindow = {},
    private readonly suggest?: { readonly packs: readonly Pack[]; readonly config: SiteConfig },
  ) {}

  add(e: Record<string, unknown>): void {
    const time = String(e['time'] ?? '');
    const t = Date.parse(time);
    if (!inWindow(this.window, t)) return;
    if (e['event'] === 'connect' && e['decision'] === 'allow') {
      // The requests inside count; a tunnel that failed has none.
      if (e['code'] !== 'ALLOWED') this.addFailedTunnel(e, time);
      return;
    }
    const decision = String(e['decision']);
    if (decision !== 'allow' && decision !== 'deny' && decision !== 'would_deny') return;
    const times = e['event'] === 'summary' && typeof e['count'] === 'number' ? e['count'] : 1;
    this.count += times;
    if (!Number.isNaN(t)) {
      if (this.first === undefined || time < this.first) this.first = time;
      if (this.last === undefined || time > this.last) this.last = time;
    }
    const code = String(e['code'] ?? '');
    const result = callResult(decision, code);
    const column = CALL_RESULTS.indexOf(result);
    const provider = typeof e['provider'] === 'string' ? e['provider'] : '(none)';
    const named = typeof e['client'] === 'string' && e['client'] !== '' ? e['client'] : '(unknown)';
    const client = this.byClient.has(named) || this.byClient.size < CLIENTS_TRACKED ? named : OTHER_CLIENTS;
    for (const tally of [this.total, tallyOf(this.byProvider, provider), tallyOf(this.byClient, client)]) tally[result] += times;
    if (!Number.isNaN(t)) {
      const hour = t - (t % HOUR);
      const row = this.timeline.get(hour) ?? [0, 0, 0, 0];
      row[column]! += times;
      this.timeline.set(hour, row);
    }

    if (decision === 'allow' && typeof e['endpoint'] === 'string') {
      this.addCall(e, time, t);
      if (result === 'failed') this.addUpstreamFailure(e, time, code);
      else if (code === 'CLIENT_CLOSED') this.addAbandoned(e, time);
      this.addTokenFailure(e, time);
      return;
    }
    if (decision === 'allow') return;
    const event = String(e['event']);
    const url = String(e['url'] ?? '');
    const { host, path } = splitTarget(url, event === 'connect');
    const method = String(e['method'] ?? '');
    // A connection refused before a request could be read, and the "N more like this" lines
    // that stand for floods of rejections, have no path to shape.
    const shape = event === 'connect' ? '(CONNECT)' : event === 'connection' ? '(connection)' : event === 'summary' ? '(summarised)' : templateShape([this.policy, this.reference], host, path);
    const key = `${decision} ${method} ${host} ${shape} ${code}`;
    const g = this.denied.get(key);
    if (g) {
      countIn(g, time);
      g.count += times - 1;
    } else {
      const packEntry = event === 'connect' || event === 'connection' || event === 'summary' ? undefined : this.packEntryFor(method, url);
      this.denied.set(key, { host, shape, method, code, decision, count: times, firstSeen: time, lastSeen: time, packEntry, change: undefined, sample: url, event });
    }
    if (typeof e['endpoint'] === 'string') {
      const u = this.usage.get(`${e['provider']} ${e['endpoint']}`);
      if (u) {
        if (decision === 'deny') u.denied++;
        else u.wouldDeny++;
      }
    }
  }

  private addCall(e: Record<string, unknown>, time: string, t: number): void {
    const status = typeof e['status'] === 'number' ? e['status'] : undefined;
    const key = `${e['provider']} ${e['endpoint']}`;
    let u = this.usage.get(key);
    if (!u) {
      u = { provider: String(e['provider']), endpoint: String(e['endpoint']), site: typeof e['site'] === 'string' ? e['site'] : undefined, calls: 0, byStatusClass: {}, errors: 0, denied: 0, wouldDeny: 0, firstSeen: time, lastSeen: time, bytesIn: 0, bytesOut: 0, durations: [] };
      this.usage.set(key, u);
    }
    u.calls++;
    const cls = status === undefined ? 'none' : `${Math.floor(status / 100)}xx`;
    u.byStatusClass[cls] = (u.byStatusClass[cls] ?? 0) + 1;
    if (status === undefined || status >= 400) u.errors++;
    if (time < u.firstSeen) u.firstSeen = time;
    if (time > u.lastSeen) u.lastSeen = time;
    u.bytesIn += Number(e['bytesIn'] ?? 0);
    u.bytesOut += Number(e['bytesOut'] ?? 0);
    if (typeof e['durationMs'] === 'number') u.durations.push(e['durationMs']);
    if (!Number.isNaN(t)) {
      const hour = t - (t % HOUR);
      let series = this.hourly.get(u.endpoint);
      if (!series) this.hourly.set(u.endpoint, (series = new Map()));
      series.set(hour, (series.get(hour) ?? 0) + 1);
    }
  }

  private addUpstreamFailure(e: Record<string, unknown>, time: string, code: string): void {
    const provider = String(e['provider']);
    const endpoint = String(e['endpoint']);
    const key = `${provider} ${endpoint} ${code}`;
    const reason = String(e['reason'] ?? '');
    const g = this.upstreamFailures.get(key);
    if (!g) this.upstreamFailures.set(key, { provider, endpoint, code, count: 1, firstSeen: time, lastSeen: time, reason });
    else if (countIn(g, time)) g.reason = reason;
  }

  private addAbandoned(e: Record<string, unknown>, time: string): void {
    const provider = String(e['provider']);
    const endpoint = String(e['endpoint']);
    const ms = typeof e['durationMs'] === 'number' ? e['durationMs'] : 0;
    const key = `${provider} ${endpoint}`;
    const g = this.abandoned.get(key);
    if (!g) this.abandoned.set(key, { provider, endpoint, count: 1, longestMs: ms, firstSeen: time, lastSeen: time });
    else {
      countIn(g, time);
      g.longestMs = Math.max(g.longestMs, ms);
    }
  }

  /** A token call whose answer carried an OAuth error (or a 4xx/5xx without one). */
  private addTokenFailure(e: Record<string, unknown>, time: string): void {
    if (e['kind'] !== 'token') return;
    const token = (e['token'] ?? {}) as Record<string, unknown>;
    const status = typeof e['status'] === 'number' ? e['status'] : undefined;
    const error = typeof token['error'] === 'string' ? token['error'] : status !== undefined && status >= 400 ? `HTTP ${status}` : undefined;
    if (error === undefined) return;
    const codes = Array.isArray(token['errorCodes']) ? token['errorCodes'].filter((c): c is number => typeof c === 'number') : [];
    const clientId = typeof token['clientId'] === 'string' ? token['clientId'] : undefined;
    const grantType = typeof token['grantType'] === 'string' ? token['grantType'] : undefined;
    const key = `${e['provider']} ${e['endpoint']} ${clientId} ${grantType} ${error} ${codes.join(',')}`;
    let g = this.tokenFailures.get(key);
    if (!g) {
      g = { provider: String(e['provider']), endpoint: String(e['endpoint']), clientId, grantType, error, codes, count: 0, firstSeen: time, lastSeen: time, traceId: undefined, correlationId: undefined };
      this.tokenFailures.set(key, g);
    }
    if (countIn(g, time) || g.count === 1) {
      g.traceId = typeof token['traceId'] === 'string' ? token['traceId'] : g.traceId;
      g.correlationId = typeof token['correlationId'] === 'string' ? token['correlationId'] : g.correlationId;
    }
  }

  private addFailedTunnel(e: Record<string, unknown>, time: string): void {
    this.count++;
    const host = String(e['host'] ?? splitTarget(String(e['url'] ?? ''), true).host);
    const code = String(e['code'] ?? '');
    const reason = String(e['reason'] ?? '');
    const key = `${host} ${code}`;
    const g = this.failedTunnels.get(key);
    if (!g) this.failedTunnels.set(key, { host, code, count: 1, firstSeen: time, lastSeen: time, reason });
    else if (countIn(g, time)) g.reason = reason;
  }

  private packEntryFor(method: string, url: string): string | undefined {
    const d = judge(this.reference, { form: 'absolute', method, url }).decision;
    return d.action === 'allow' ? d.endpoint : undefined;
  }

  /** What report --suggest would say for one denial group: its change, or why none should. */
  private changeFor(g: DeniedGroup): string | undefined {
    if (!this.suggest) return undefined;
    const builder = new SuggestionBuilder(this.policy, this.reference, this.suggest.packs, this.suggest.config);
    builder.addEvent({ event: g.event === 'summary' ? 'request' : g.event, decision: g.decision, method: g.method, url: g.sample, code: g.code, client: '' });
    const r = builder.result();
    return r.suggestions[0]?.summary ?? r.none[0]?.why;
  }

  report(since?: string, until?: string): UsageReport {
    const endpoints = [...this.usage.values()]
      .sort((a, b) => a.provider.localeCompare(b.provider) || b.calls - a.calls || a.endpoint.localeCompare(b.endpoint))
      .map(({ durations, ...u }) => {
        const sorted = Float64Array.from(durations).sort();
        const q = (p: number) => (sorted.length === 0 ? undefined : Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! * 100) / 100);
        return { ...u, p50Ms: q(0.5), p95Ms: q(0.95) };
      });
    const used = new Set(endpoints.map((u) => `${u.provider} ${u.endpoint}`));
    const unused = this.policy.endpoints
      .filter((e) => !used.has(`${e.provider} ${e.id}`))
      .map((e) => ({ provider: e.provider, id: e.id, source: e.source, site: e.site, reason: e.reason }));
    const denied = [...this.denied.values()].sort((a, b) => b.count - a.count || a.host.localeCompare(b.host) || a.shape.localeCompare(b.shape));
    for (const g of denied) g.change = this.changeFor(g);
    const hourly = [...this.hourly].map(([endpoint, hours]) => ({ endpoint, hours: [...hours].sort((a, b) => a[0] - b[0]) }));
    const failedTunnels = [...this.failedTunnels.values()].sort((a, b) => b.count - a.count || a.host.localeCompare(b.host) || a.code.localeCompare(b.code));
    const byCount = (a: Tally, b: Tally) => b.allowed + b.denied + b.wouldDeny + b.failed - (a.allowed + a.denied + a.wouldDeny + a.failed);
    const clients = [...this.byClient].filter(([client]) => client !== OTHER_CLIENTS).map(([client, tally]) => ({ client, ...tally })).sort((a, b) => byCount(a, b) || a.client.localeCompare(b.client));
    const untracked = this.byClient.get(OTHER_CLIENTS) ?? { allowed: 0, denied: 0, wouldDeny: 0, failed: 0 };
    const others = clients.slice(CLIENT_ROWS).reduce<Tally & { client: string }>((sum, c) => ({ client: OTHER_CLIENTS, allowed: sum.allowed + c.allowed, denied: sum.denied + c.denied, wouldDeny: sum.wouldDeny + c.wouldDeny, failed: sum.failed + c.failed }), { client: OTHER_CLIENTS, ...untracked });
    const hasOthers = others.allowed + others.denied + others.wouldDeny + others.failed > 0;
    return {
      since,
      until,
      first: this.first,
      last: this.last,
      events: this.count,
      summary: {
        total: { ...this.total },
        byProvider: [...this.byProvider].map(([provider, tally]) => ({ provider, ...tally })).sort((a, b) => a.provider.localeCompare(b.provider)),
        byClient: hasOthers ? [...clients.slice(0, CLIENT_ROWS), others] : clients,
      },
      timeline: this.timelineReport(),
      hourly,
      endpoints,
      unused,
      denied,
      upstreamFailures: [...this.upstreamFailures.values()].sort((a, b) => b.count - a.count || a.provider.localeCompare(b.provider)),
      abandoned: [...this.abandoned.values()].sort((a, b) => b.count - a.count || a.provider.localeCompare(b.provider)),
      tokenFailures: [...this.tokenFailures.values()].sort((a, b) => b.count - a.count || a.provider.localeCompare(b.provider)),
      failedTunnels,
    };
  }

  /** Every bucket from the first to the last, empty ones too, so a chart's gaps are real. */
  private timelineReport(): UsageReport['timeline'] {
    const hours = [...this.timeline.keys()];
    if (hours.length === 0) return { bucketMs: HOUR, t: [], allowed: [], denied: [], wouldDeny: [], failed: [] };
    const start = Math.min(...hours);
    const end = Math.max(...hours);
    const bucketMs = end - start > 3 * DAY ? DAY : HOUR;
    const first = start - (start % bucketMs);
    const out = { bucketMs, t: [] as number[], allowed: [] as number[], denied: [] as number[], wouldDeny: [] as number[], failed: [] as number[] };
    for (let b = first; b <= end; b += bucketMs) {
      out.t.push(b);
      const sum = [0, 0, 0, 0];
      for (let h = b; h < b + bucketMs; h += HOUR) {
        const row = this.timeline.get(h);
        if (row) for (let c = 0; c < 4; c++) sum[c]! += row[c]!;
      }
      out.allowed.push(sum[0]!);
      out.denied.push(sum[1]!);
      out.wouldDeny.push(sum[2]!);
      out.failed.push(sum[3]!);
    }
    return out;
  }
}

function tallyOf(map: Map<string, Tally>, key: string): Tally {
  let tally = map.get(key);
  if (!tally) map.set(key, (tally = { allowed: 0, denied: 0, wouldDeny: 0, failed: 0 }));
  return tally;
}

/** One more event in a group: counted, and the group's period widened. True when it is the latest so far. */
function countIn(g: { count: number; firstSeen: string; lastSeen: string }, time: string): boolean {
  g.count++;
  if (time < g.firstSeen) g.firstSeen = time;
  if (time < g.lastSeen) return false;
  g.lastSeen = time;
  return true;
}

/** A site endpoint says so, and where the config defines it, wherever its id is shown. */
export function endpointLabel(u: { readonly endpoint: string; readonly site: string | undefined }): string {
  return u.site === undefined ? u.endpoint : `${u.endpoint} (site ${u.site})`;
}

export function sourceLabel(e: { readonly source: string; readonly site: string | undefined }): string {
  return e.site === undefined ? e.source : `site ${e.site}`;
}
