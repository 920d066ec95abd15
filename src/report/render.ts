import { columns } from '../core/columns.js';
import { renderHtml } from './html.js';
import { endpointLabel, sourceLabel, type UsageReport } from './usage-report.js';

export const REPORT_FORMATS = ['text', 'json', 'markdown', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export function renderReport(r: UsageReport, format: ReportFormat): string {
  if (format === 'json') return `${JSON.stringify(r, null, 2)}\n`;
  if (format === 'html') return renderHtml(r);
  const period = `${r.since ?? 'start of the logs'} to ${r.until ?? 'end of the logs'}`;
  const rows = (md: boolean) => {
    const head = ['PROVIDER', 'ENDPOINT', 'CALLS', '2XX', '4XX', '5XX', 'DENIED', 'WOULD DENY', 'P50 MS', 'P95 MS', 'BYTES OUT', 'FIRST SEEN', 'LAST SEEN'];
    const body = r.endpoints.map((u) => [
      u.provider,
      endpointLabel(u),
      String(u.calls),
      String(u.byStatusClass['2xx'] ?? 0),
      String(u.byStatusClass['4xx'] ?? 0),
      String(u.byStatusClass['5xx'] ?? 0),
      String(u.denied),
      String(u.wouldDeny),
      u.p50Ms === undefined ? '-' : String(u.p50Ms),
      u.p95Ms === undefined ? '-' : String(u.p95Ms),
      String(u.bytesOut),
      u.firstSeen,
      u.lastSeen,
    ]);
    return md ? table(head, body) : columns([head, ...body]);
  };
  const deniedHead = ['COUNT', 'DECISION', 'CODE', 'METHOD', 'HOST', 'PATH SHAPE', 'PACK ENTRY THAT WOULD ALLOW IT'];
  const deniedBody = r.denied.map((d) => [String(d.count), d.decision, d.code, d.method, d.host, d.shape, d.packEntry ?? '-']);
  const failedHead = ['COUNT', 'CODE', 'HOST', 'LAST REASON', 'FIRST SEEN', 'LAST SEEN'];
  const failedBody = r.failedTunnels.map((f) => [String(f.count), f.code, f.host, f.reason, f.firstSeen, f.lastSeen]);
  const unusedHead = ['PROVIDER', 'ENDPOINT', 'SOURCE', 'REASON'];
  const unusedBody = r.unused.map((u) => [u.provider, u.id, sourceLabel(u), u.reason]);
  if (format === 'markdown') {
    return [
      `# idp-egress usage report`,
      ``,
      `Period: ${period}. Events: ${r.events}.`,
      ``,
      `## Calls per endpoint`,
      ``,
      r.endpoints.length > 0 ? rows(true) : '_No allowed calls in this period._',
      `## Denied and would-be-denied requests`,
      ``,
      r.denied.length > 0 ? table(deniedHead, deniedBody) : '_None._',
      `## Allowed CONNECTs whose tunnel failed`,
      ``,
      `The client's TLS handshake with the gateway (does it trust the gateway's CA?) or, in tunnel mode, the provider.`,
      ``,
      r.failedTunnels.length > 0 ? table(failedHead, failedBody) : '_None._',
      `## Enabled endpoints never used in this period`,
      ``,
      `Candidates to remove from the allowlist once the period covers a full sync cycle.`,
      ``,
      r.unused.length > 0 ? table(unusedHead, unusedBody) : '_None._',
    ].join('\n');
  }
  return [
    `idp-egress usage report: ${period}, ${r.events} events`,
    ``,
    `Calls per endpoint:`,
    r.endpoints.length > 0 ? rows(false) : '  (no allowed calls)\n',
    `Denied and would-be-denied requests (IDs collapsed):`,
    r.denied.length > 0 ? columns([deniedHead, ...deniedBody]) : '  (none)\n',
    `Allowed CONNECTs whose tunnel failed (the client's TLS handshake, or the provider in tunnel mode):`,
    r.failedTunnels.length > 0 ? columns([failedHead, ...failedBody]) : '  (none)\n',
    `Enabled endpoints never used in this period (candidates to remove):`,
    r.unused.length > 0 ? columns([unusedHead, ...unusedBody]) : '  (none)\n',
  ].join('\n');
}

function table(head: readonly string[], body: readonly (readonly string[])[]): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n') + '\n';
}
