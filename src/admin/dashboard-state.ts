import type { UnwritableDestination } from '../audit/audit-log.js';
import { CALL_RESULTS, callResult, outcomeDecision, type Outcome } from '../audit/outcome.js';
import type { OutcomeSink } from '../audit/outcome-batch.js';
import type { LoadedPolicy } from '../policy/load.js';
import type { Policy } from '../policy/model.js';
import { splitTarget, templateShape } from '../report/path-shape.js';
import { SuggestionBuilder } from '../report/suggest.js';

/**
 * What the live dashboard shows (docs/audit.md, "Live dashboard"), kept from the outcome stream
 * the audit and metrics read. Memory is bounded whatever the traffic: a day of per-minute counts
 * in a ring, and every list capped (the latest denials, denial groups, failures, token outcomes,
 * reloads), the oldest entry leaving when a new one comes.
 */

const MINUTE = 60_000;
export const DASHBOARD_LIMITS = {
  /** Per-minute buckets kept: one day. */
  minutes: 1440,
  latestDenials: 100,
  denialGroups: 500,
  failures: 200,
  tokenOutcomes: 200,
  reloads: 20,
} as const;

export interface DashboardSnapshot {
  readonly now: number;
  readonly startedAt: number;
  readonly mode: string;
  readonly providers: readonly {
    readonly provider: string;
    readonly title: string;
    readonly enabled: boolean;
    readonly off: string | undefined;
    readonly mode: string;
    readonly tls: string;
    readonly lastAllowed: number | undefined;
    readonly lastFailure: { readonly time: number; readonly code: string } | undefined;
  }[];
  /** Per minute since the ring began (or the day's start): epoch ms of each minute, and counts. */
  readonly series: { readonly t: readonly number[]; readonly allowed: readonly number[]; readonly denied: readonly number[]; readonly wouldDeny: readonly number[]; readonly failed: readonly number[] };
  readonly totals: { readonly allowed: number; readonly denied: number; readonly wouldDeny: number; readonly failed: number };
  readonly endpoints: {
    readonly used: readonly { readonly provider: string; readonly id: string; readonly calls: number; readonly lastSeen: number; readonly site: string | undefined }[];
    readonly unused: readonly { readonly provider: string; readonly id: string; readonly source: string; readonly site: string | undefined }[];
  };
  readonly denials: readonly Denial[];
  readonly failedTunnels: readonly Failure[];
  readonly upstreamFailures: readonly Failure[];
  readonly tokens: readonly TokenOutcome[];
  readonly ca: { readonly notAfter: number };
  readonly leafCache: number;
  /** Client connections held now, and the most the gateway holds (lowered from limits.maxConnections when the open-files limit cannot carry it). */
  readonly connections: ConnectionFacts & { readonly held: number };
  /** Audit destinations that cannot be written now (a full disk), why and since when. */
  readonly audit: readonly UnwritableDestination[];
  readonly reloads: readonly Reload[];
}

export interface Denial {
  readonly time: number;
  readonly decision: 'deny' | 'would_deny';
  readonly code: string;
  readonly client: string;
  readonly method: string;
  readonly host: string;
  readonly shape: string;
  readonly provider: string | undefined;
  readonly reason: string;
  /** The pack entry or config change that would allow it, or why none should. */
  readonly allowWith: string;
}

/** A denial as recorded: shaped, and what would allow it worked out, when a page asks (shown()). */
interface PendingDenial extends Omit<Denial, 'allowWith' | 'shape'> {
  readonly kind: Outcome['kind'];
  readonly url: string;
  readonly path: string;
}

export interface Failure {
  readonly provider: string | undefined;
  readonly host: string;
  readonly code: string;
  count: number;
  last: number;
  reason: string;
}

export interface TokenOutcome {
  readonly provider: string;
  readonly grantType: string;
  readonly outcome: 'ok' | 'error';
  /** The OAuth error and Entra's AADSTS codes; never a secret (token-call.ts keeps only these). */
  readonly error: string | undefined;
  readonly codes: readonly number[];
  count: number;
  last: number;
}

export interface Reload {
  readonly time: number;
  readonly ok: boolean;
  readonly detail: string;
}

/** What the gateway holds at most (descriptors.ts): the limit in force, and the configured one with the open-files limit when it was lowered. */
export interface ConnectionFacts {
  readonly limit: number;
  readonly configured: number;
  readonly openFilesLimit: number | undefined;
}

export interface DashboardSources {
  readonly loaded: () => LoadedPolicy;
  /** Every shipped pack on and unbound: which entry would allow a denied call. */
  readonly reference: () => Policy;
  readonly caNotAfter: number;
  readonly leafCache: () => number;
  readonly heldConnections: () => number;
  readonly connectionLimits: ConnectionFacts;
  /** Audit destinations that cannot be written now (AuditLog.unwritable). */
  readonly unwritableAudit: () => readonly UnwritableDestination[];
  readonly now?: () => number;
}

export class DashboardState implements OutcomeSink {
  private readonly startedAt: number;
  /** Ring of per-minute counts, one per CALL_RESULTS, at index minute % size. */
  private readonly ring = new Float64Array(DASHBOARD_LIMITS.minutes * 4);
  private readonly ringMinute = new Float64Array(DASHBOARD_LIMITS.minutes).fill(-1);
  private readonly totals = { allowed: 0, denied: 0, wouldDeny: 0, failed: 0 };
  private readonly lastAllowed = new Map<string, number>();
  private readonly lastFailure = new Map<string, { time: number; code: string }>();
  private readonly used = new Map<string, { provider: string; id: string; calls: number; lastSeen: number; site: string | undefined }>();
  private readonly denials: PendingDenial[] = [];
  /**
   * What would allow each group of denials, worked out once per group, and only when a page
   * asks for the latest ones: a flood of distinct denials costs nothing here until then, and at
   * most the latest 100 per refresh after.
   */
  private readonly allowWith = new Map<string, string>();
  private readonly failedTunnels = new Map<string, Failure>();
  private readonly upstreamFailures = new Map<string, Failure>();
  private readonly tokens = new Map<string, TokenOutcome>();
  private readonly reloads: Reload[] = [];
  private readonly now: () => number;

  constructor(private readonly sources: DashboardSources) {
    this.now = sources.now ?? Date.now;
    this.startedAt = this.now();
  }

  recordAll(outcomes: readonly Outcome[]): void {
    for (const o of outcomes) this.record(o);
  }

  /** Each outcome counts as it is recorded: nothing waits for a commit. */
  commit(): void {}

  reloaded(ok: boolean, detail: string): void {
    this.reloads.unshift({ time: this.now(), ok, detail });
    this.reloads.length = Math.min(this.reloads.length, DASHBOARD_LIMITS.reloads);
  }

  private record(o: Outcome): void {
    const decision = outcomeDecision(o);
    const provider = o.decision?.provider;
    if (o.kind === 'connect' && decision === 'allow') {
      // Not a call: the requests inside the tunnel are. Only a client refusing the gateway's
      // certificate after it is worth showing.
      if (o.code === 'CLIENT_TLS_FAILED') {
        bump(this.failedTunnels, `${o.decision?.host} ${o.code}`, { provider, host: o.decision?.host ?? '', code: o.code, count: 0, last: 0, reason: o.reason }, o.time, o.reason, DASHBOARD_LIMITS.failures);
        if (provider) this.lastFailure.set(provider, { time: o.time, code: o.code });
      }
      return;
    }
    const result = callResult(decision, o.code);
    this.count(o.time, CALL_RESULTS.indexOf(result));
    this.totals[result]++;
    if (result === 'failed') {
      if (provider) this.lastFailure.set(provider, { time: o.time, code: o.code });
      bump(this.upstreamFailures, `${provider} ${o.code}`, { provider, host: o.decision?.host ?? '', code: o.code, count: 0, last: 0, reason: o.reason }, o.time, o.reason, DASHBOARD_LIMITS.failures);
    } else if (result === 'allowed') {
      if (provider) this.lastAllowed.set(provider, o.time);
      const endpoint = o.decision?.endpoint;
      if (o.kind === 'request' && provider && endpoint) {
        const key = `${provider} ${endpoint}`;
        const u = this.used.get(key) ?? { provider, id: endpoint, calls: 0, lastSeen: 0, site: o.decision?.site };
        u.calls++;
        u.lastSeen = o.time;
        this.used.set(key, u);
      }
    } else if (decision !== 'allow') {
      this.addDenial(o, decision);
    }
    if (o.token && provider) {
      const error = o.token.error;
      const outcome: TokenOutcome['outcome'] = error !== undefined || (o.status !== undefined && o.status >= 400) ? 'error' : 'ok';
      const codes = o.token.errorCodes ?? [];
      const key = `${provider} ${o.token.grantType} ${outcome} ${error} ${codes.join(',')}`;
      const t = this.tokens.get(key) ?? { provider, grantType: o.token.grantType ?? 'unknown', outcome, error, codes, count: 0, last: 0 };
      t.count++;
      t.last = o.time;
      this.tokens.delete(key);
      this.tokens.set(key, t);
      trim(this.tokens, DASHBOARD_LIMITS.tokenOutcomes);
    }
  }

  private count(time: number, column: number): void {
    const minute = Math.floor(time / MINUTE);
    const slot = minute % DASHBOARD_LIMITS.minutes;
    if (this.ringMinute[slot] !== minute) {
      this.ringMinute[slot] = minute;
      this.ring.fill(0, slot * 4, slot * 4 + 4);
    }
    this.ring[slot * 4 + column]!++;
  }

  /**
   * Kept as it came; shaped by the templates, and what would allow it worked out, only when a page
   * asks (shown()): a flood of denials costs a list insertion each here, nothing more.
   */
  private addDenial(o: Outcome, decision: 'deny' | 'would_deny'): void {
    const { host, path } = splitTarget(o.url, o.kind === 'connect' || o.kind === 'connection');
    this.denials.unshift({
      time: o.time,
      decision,
      code: o.code,
      client: o.client,
      method: o.method,
      host: o.decision?.host ?? host,
      path,
      provider: o.decision?.provider,
      reason: o.reason,
      kind: o.kind,
      url: o.url,
    });
    this.denials.length = Math.min(this.denials.length, DASHBOARD_LIMITS.latestDenials);
  }

  /** A denial as the page shows it: its path shape, fields a hostile client picks cut to what a page needs. */
  private shown(d: PendingDenial): Denial {
    const shape = d.kind === 'request' ? templateShape([this.sources.loaded().policy, this.sources.reference()], d.host, d.path) : d.kind === 'connect' ? '(CONNECT)' : '(connection)';
    const group = `${d.method} ${d.host} ${shape} ${d.code}`;
    let allowWith = this.allowWith.get(group);
    if (allowWith === undefined) {
      allowWith = this.whatWouldAllow(d);
      this.allowWith.set(group, allowWith);
      trim(this.allowWith, DASHBOARD_LIMITS.denialGroups);
    }
    return { time: d.time, decision: d.decision, code: d.code, client: d.client, method: d.method, host: cut(d.host, 255), shape: cut(shape, 300), provider: d.provider, reason: cut(d.reason, 500), allowWith };
  }

  /** The pack entry or config change that would allow a denied call, as report --suggest says it. */
  private whatWouldAllow(d: PendingDenial): string {
    if (d.kind === 'connection' || d.kind === 'tunnel') return 'refused before any request was read: no config change';
    const loaded = this.sources.loaded();
    const builder = new SuggestionBuilder(loaded.policy, this.sources.reference(), loaded.packs, loaded.config.config);
    if (d.kind === 'connect') builder.addEvent({ event: 'connect', decision: 'deny', method: 'CONNECT', url: d.host, code: d.code, client: d.client });
    else builder.add({ method: d.method, url: d.url, code: d.code, client: d.client });
    const result = builder.result();
    const s = result.suggestions[0];
    if (s) return `${s.summary} (report --suggest prints it as YAML)`;
    return result.none[0]?.why ?? 'no config change';
  }

  snapshot(): DashboardSnapshot {
    const now = this.now();
    const { policy } = this.sources.loaded();
    const nowMinute = Math.floor(now / MINUTE);
    const first = Math.max(Math.floor(this.startedAt / MINUTE), nowMinute - DASHBOARD_LIMITS.minutes + 1);
    const t: number[] = [];
    const columns: [number[], number[], number[], number[]] = [[], [], [], []];
    for (let m = first; m <= nowMinute; m++) {
      const slot = m % DASHBOARD_LIMITS.minutes;
      t.push(m * MINUTE);
      for (let c = 0; c < 4; c++) columns[c]!.push(this.ringMinute[slot] === m ? this.ring[slot * 4 + c]! : 0);
    }
    const used = [...this.used.values()].sort((a, b) => a.provider.localeCompare(b.provider) || b.calls - a.calls);
    const usedKeys = new Set(used.map((u) => `${u.provider} ${u.id}`));
    return {
      now,
      startedAt: this.startedAt,
      mode: policy.mode,
      providers: policy.providers.map((p) => ({
        provider: p.provider,
        title: p.title,
        enabled: p.enabled,
        off: p.off,
        mode: p.mode,
        tls: p.tls,
        lastAllowed: this.lastAllowed.get(p.provider),
        lastFailure: this.lastFailure.get(p.provider),
      })),
      series: { t, allowed: columns[0], denied: columns[1], wouldDeny: columns[2], failed: columns[3] },
      totals: { ...this.totals },
      endpoints: {
        used,
        unused: policy.endpoints.filter((e) => !usedKeys.has(`${e.provider} ${e.id}`)).map((e) => ({ provider: e.provider, id: e.id, source: e.source, site: e.site })),
      },
      denials: this.denials.map((d) => this.shown(d)),
      failedTunnels: [...this.failedTunnels.values()].sort((a, b) => b.last - a.last),
      upstreamFailures: [...this.upstreamFailures.values()].sort((a, b) => b.last - a.last),
      tokens: [...this.tokens.values()].sort((a, b) => b.last - a.last),
      ca: { notAfter: this.sources.caNotAfter },
      leafCache: this.sources.leafCache(),
      connections: { ...this.sources.connectionLimits, held: this.sources.heldConnections() },
      audit: this.sources.unwritableAudit(),
      reloads: [...this.reloads],
    };
  }
}


function bump(map: Map<string, Failure>, key: string, fresh: Failure, time: number, reason: string, cap: number): void {
  const f = map.get(key) ?? fresh;
  f.count++;
  f.last = time;
  f.reason = reason;
  map.delete(key);
  map.set(key, f);
  trim(map, cap);
}

/** Drops the oldest entries (insertion order) past the cap. */
function trim<K, V>(map: Map<K, V>, cap: number): void {
  while (map.size > cap) map.delete(map.keys().next().value as K);
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
