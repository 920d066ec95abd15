import type { Endpoint, Policy } from '../policy/model.js';
import { judge } from '../policy/judge.js';
import { pathShape } from './path-shape.js';

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
  readonly events: number;
  /** Allowed calls per endpoint per hour (epoch ms of the hour's start), for charts. */
  readonly hourly: readonly { readonly endpoint: string; readonly hours: readonly (readonly [number, number])[] }[];
  readonly endpoints: readonly (Omit<EndpointUsage, 'durations'> & { p50Ms: number | undefined; p95Ms: number | undefined })[];
  readonly unused: readonly Pick<Endpoint, 'provider' | 'id' | 'source' | 'site' | 'reason'>[];
  readonly denied: readonly DeniedGroup[];
  readonly failedTunnels: readonly FailedTunnelGroup[];
}

/**
 * Aggregates audit events into the usage report, one event at a time, so memory grows with the
 * number of endpoints and denial shapes, not with the log. `reference` is the policy with every
 * pack on and unbound, to name the entry that would allow a denied call.
 */
export class UsageAggregator {
  private readonly usage = new Map<string, EndpointUsage>();
  private readonly denied = new Map<string, DeniedGroup>();
  private readonly failedTunnels = new Map<string, FailedTunnelGroup>();
  private readonly hourly = new Map<string, Map<number, number>>();
  private count = 0;

  constructor(
    private readonly policy: Policy,
    private readonly reference: Policy,
    private readonly window: { readonly since?: number | undefined; readonly until?: number | undefined } = {},
  ) {}

  add(e: Record<string, unknown>): void {
    const time = String(e['time'] ?? '');
    const t = Date.parse(time);
    if (this.window.since !== undefined && !(t >= this.window.since)) return;
    if (this.window.until !== undefined && !(t < this.window.until)) return;
    if (e['event'] === 'connect' && e['decision'] === 'allow') {
      // The requests inside count; a tunnel that failed has none.
      if (e['code'] !== 'ALLOWED') this.addFailedTunnel(e, time);
      return;
    }
    this.count++;
    const decision = String(e['decision']);
    const status = typeof e['status'] === 'number' ? e['status'] : undefined;
    if (decision === 'allow' && typeof e['endpoint'] === 'string') {
      const key = `${e['provider']} ${e['endpoint']}`;
      let u = this.usage.get(key);
      if (!u) {
        u = { provider: String(e['provider']), endpoint: e['endpoint'], site: typeof e['site'] === 'string' ? e['site'] : undefined, calls: 0, byStatusClass: {}, errors: 0, denied: 0, wouldDeny: 0, firstSeen: time, lastSeen: time, bytesIn: 0, bytesOut: 0, durations: [] };
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
        const hour = t - (t % 3_600_000);
        let series = this.hourly.get(u.endpoint);
        if (!series) this.hourly.set(u.endpoint, (series = new Map()));
        series.set(hour, (series.get(hour) ?? 0) + 1);
      }
      return;
    }
    if (decision !== 'deny' && decision !== 'would_deny') return;
    const event = e['event'];
    const { host, path } = splitUrl(String(e['url'] ?? ''), event === 'connect');
    const method = String(e['method'] ?? '');
    const code = String(e['code'] ?? '');
    // A connection refused before a request could be read, and the "N more like this" lines
    // that stand for floods of rejections, have no path to shape.
    const shape = event === 'connect' ? '(CONNECT)' : event === 'connection' ? '(connection)' : event === 'summary' ? '(summarised)' : pathShape(path);
    const times = event === 'summary' && typeof e['count'] === 'number' ? e['count'] : 1;
    if (times > 1) this.count += times - 1;
    const key = `${decision} ${method} ${host} ${shape} ${code}`;
    const g = this.denied.get(key);
    if (g) {
      countIn(g, time);
      g.count += times - 1;
    } else {
      const packEntry = event === 'connect' || event === 'connection' || event === 'summary' ? undefined : this.packEntryFor(method, String(e['url'] ?? ''));
      this.denied.set(key, { host, shape, method, code, decision, count: times, firstSeen: time, lastSeen: time, packEntry });
    }
    if (typeof e['endpoint'] === 'string') {
      const u = this.usage.get(`${e['provider']} ${e['endpoint']}`);
      if (u) {
        if (decision === 'deny') u.denied++;
        else u.wouldDeny++;
      }
    }
  }

  private addFailedTunnel(e: Record<string, unknown>, time: string): void {
    this.count++;
    const host = String(e['host'] ?? splitUrl(String(e['url'] ?? ''), true).host);
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
    const hourly = [...this.hourly].map(([endpoint, hours]) => ({ endpoint, hours: [...hours].sort((a, b) => a[0] - b[0]) }));
    const failedTunnels = [...this.failedTunnels.values()].sort((a, b) => b.count - a.count || a.host.localeCompare(b.host) || a.code.localeCompare(b.code));
    return { since, until, events: this.count, hourly, endpoints, unused, denied, failedTunnels };
  }
}

function splitUrl(url: string, isConnect: boolean): { host: string; path: string } {
  if (isConnect) return { host: url.replace(/:443$/, ''), path: '' };
  const m = /^[a-z]+:\/\/([^/?#]*)([^?#]*)/i.exec(url);
  return m ? { host: m[1]!.replace(/^.*@/, ''), path: m[2]! || '/' } : { host: '', path: url };
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
