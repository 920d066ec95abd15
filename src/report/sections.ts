import { endpointLabel, sourceLabel, type Tally, type UsageReport } from './usage-report.js';

/** One section of the report: a title, what its columns mean, and its rows (or why it has none). */
export interface ReportSection {
  readonly title: string;
  readonly note: string | undefined;
  readonly head: readonly string[];
  readonly rows: readonly (readonly (string | number)[])[];
  readonly empty: string;
}

/** The period as the report states it: the bounds asked for, else the first and last events. */
export function periodOf(r: UsageReport): string {
  const from = r.since ?? r.first ?? 'no events';
  const to = r.until ?? r.last ?? 'no events';
  return `${from} to ${to}`;
}

/**
 * The report's sections in the order an operator reads them, the same in text, Markdown and
 * HTML: the summary first, then what went wrong, then what is used and what is not.
 */
export function reportSections(r: UsageReport): ReportSection[] {
  const tallyHead = ['ALLOWED', 'DENIED', 'WOULD DENY', 'FAILED UPSTREAM'];
  const tally = (t: Tally) => [t.allowed, t.denied, t.wouldDeny, t.failed];
  const timeline = r.timeline.t
    .map((t, i) => [new Date(t).toISOString().slice(0, r.timeline.bucketMs >= 86_400_000 ? 10 : 13).replace('T', ' ') + (r.timeline.bucketMs >= 86_400_000 ? '' : 'h'), r.timeline.allowed[i]!, r.timeline.denied[i]!, r.timeline.wouldDeny[i]!, r.timeline.failed[i]!] as const)
    .filter((row) => row[2] + row[3] > 0);
  return [
    {
      title: 'Summary by provider',
      note: `All calls in the period: ${tally(r.summary.total).map((n, i) => `${n} ${tallyHead[i]!.toLowerCase()}`).join(', ')}. "Failed upstream" calls were allowed and then failed on the provider side (502/504); they are not counted as allowed.`,
      head: ['PROVIDER', ...tallyHead],
      rows: r.summary.byProvider.map((p) => [p.provider, ...tally(p)]),
      empty: 'no calls',
    },
    {
      title: 'Summary by client address',
      note: 'The Atlassian servers, and anything else that used the gateway; the busiest 50, then the rest as "others".',
      head: ['CLIENT', ...tallyHead],
      rows: r.summary.byClient.map((c) => [c.client, ...tally(c)]),
      empty: 'no calls',
    },
    {
      title: `Denials over time, per ${r.timeline.bucketMs >= 86_400_000 ? 'day' : 'hour'}`,
      note: 'Only the periods with denials; the HTML report charts every period.',
      head: ['PERIOD', ...tallyHead],
      rows: timeline,
      empty: 'no denials',
    },
    {
      title: 'Denied and would-be-denied requests',
      note: 'Grouped by decision, code, method, host and path shape (segments an endpoint template matched are named by its variable; other ids collapse to {id}). "Pack entry" is a shipped endpoint that would allow it if its provider were on and bound; "what would allow it" is the change report --suggest prints as YAML, or why none should.',
      head: ['COUNT', 'DECISION', 'CODE', 'METHOD', 'HOST', 'PATH SHAPE', 'PACK ENTRY', 'WHAT WOULD ALLOW IT'],
      rows: r.denied.map((d) => [d.count, d.decision, d.code, d.method, d.host, d.shape, d.packEntry ?? '-', d.change ?? '-']),
      empty: 'none',
    },
    {
      title: 'Upstream failures',
      note: 'Allowed calls the provider side failed (DNS, connect, TLS, reset, timeout): the server saw 502 or 504 with this code. idp-egress probe --provider NAME finds the failing step.',
      head: ['COUNT', 'PROVIDER', 'ENDPOINT', 'CODE', 'LAST REASON', 'FIRST SEEN', 'LAST SEEN'],
      rows: r.upstreamFailures.map((f) => [f.count, f.provider, f.endpoint, f.code, f.reason, f.firstSeen, f.lastSeen]),
      empty: 'none',
    },
    {
      title: 'Calls the client gave up on',
      note: "Allowed calls the server closed before their response was complete (CLIENT_CLOSED): usually the app's own read timeout while the provider was slow; compare the longest with that timeout. Not a network fault.",
      head: ['COUNT', 'PROVIDER', 'ENDPOINT', 'LONGEST MS', 'FIRST SEEN', 'LAST SEEN'],
      rows: r.abandoned.map((g) => [g.count, g.provider, g.endpoint, Math.round(g.longestMs), g.firstSeen, g.lastSeen]),
      empty: 'none',
    },
    {
      title: 'Failed token calls',
      note: "Token requests the provider answered with an error: its OAuth error and Entra's AADSTS codes, the client id, and the latest trace and correlation ids to quote to its support. Never a secret.",
      head: ['COUNT', 'PROVIDER', 'CLIENT ID', 'GRANT TYPE', 'ERROR', 'CODES', 'TRACE ID', 'CORRELATION ID', 'LAST SEEN'],
      rows: r.tokenFailures.map((f) => [f.count, f.provider, f.clientId ?? '-', f.grantType ?? '-', f.error, f.codes.length > 0 ? f.codes.map((c) => `AADSTS${c}`).join(' ') : '-', f.traceId ?? '-', f.correlationId ?? '-', f.lastSeen]),
      empty: 'none',
    },
    {
      title: 'Allowed CONNECTs whose tunnel failed',
      note: "The client's TLS handshake with the gateway (does it trust the gateway's CA?) or, in tunnel mode, the provider.",
      head: ['COUNT', 'CODE', 'HOST', 'LAST REASON', 'FIRST SEEN', 'LAST SEEN'],
      rows: r.failedTunnels.map((f) => [f.count, f.code, f.host, f.reason, f.firstSeen, f.lastSeen]),
      empty: 'none',
    },
    {
      title: 'Calls per endpoint',
      note: 'CALLS counts the calls the policy allowed, whatever the provider answered (2XX/4XX/5XX split them; failed-upstream calls are among the 5XX). DENIED and WOULD DENY are calls that matched the endpoint\'s path but were refused for their method, query or tenant: they are not in CALLS.',
      head: ['PROVIDER', 'ENDPOINT', 'CALLS', '2XX', '4XX', '5XX', 'DENIED', 'WOULD DENY', 'P50 MS', 'P95 MS', 'BYTES OUT', 'FIRST SEEN', 'LAST SEEN'],
      rows: r.endpoints.map((u) => [u.provider, endpointLabel(u), u.calls, u.byStatusClass['2xx'] ?? 0, u.byStatusClass['4xx'] ?? 0, u.byStatusClass['5xx'] ?? 0, u.denied, u.wouldDeny, u.p50Ms ?? '-', u.p95Ms ?? '-', u.bytesOut, u.firstSeen, u.lastSeen]),
      empty: 'no allowed calls',
    },
    {
      title: 'Enabled endpoints never used in this period',
      note: 'Candidates to remove from the allowlist once the period covers a full sync cycle.',
      head: ['PROVIDER', 'ENDPOINT', 'SOURCE', 'REASON'],
      rows: r.unused.map((u) => [u.provider, u.id, sourceLabel(u), u.reason]),
      empty: 'none',
    },
  ];
}
