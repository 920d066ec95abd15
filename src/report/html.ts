import { endpointLabel, sourceLabel, type UsageReport } from './usage-report.js';

/**
 * The usage report as one self-contained HTML file: inline CSS and an inline SVG chart of calls
 * per endpoint over time, no scripts, no external resources. Every value from the logs is
 * escaped: hosts and paths in denied requests come from clients.
 */
export function renderHtml(r: UsageReport): string {
  const period = `${r.since ?? 'start of the logs'} to ${r.until ?? 'end of the logs'}`;
  const endpointRows = r.endpoints.map((u) =>
    row([u.provider, endpointLabel(u), u.calls, u.byStatusClass['2xx'] ?? 0, u.byStatusClass['4xx'] ?? 0, u.byStatusClass['5xx'] ?? 0, u.denied, u.wouldDeny, u.p50Ms ?? '-', u.p95Ms ?? '-', u.bytesOut, u.firstSeen, u.lastSeen]),
  );
  const deniedRows = r.denied.map((d) => row([d.count, d.decision, d.code, d.method, d.host, d.shape, d.packEntry ?? '-']));
  const failedRows = r.failedTunnels.map((f) => row([f.count, f.code, f.host, f.reason, f.firstSeen, f.lastSeen]));
  const unusedRows = r.unused.map((u) => row([u.provider, u.id, sourceLabel(u), u.reason]));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>idp-egress usage report</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0 2em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.legend span { display: inline-block; margin-right: 1.5em; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; }
</style>
</head>
<body>
<h1>idp-egress usage report</h1>
<p>Period: ${esc(period)}. Events: ${r.events}.</p>
<h2>Calls per endpoint over time</h2>
${chart(r)}
<h2>Calls per endpoint</h2>
${table(['Provider', 'Endpoint', 'Calls', '2xx', '4xx', '5xx', 'Denied', 'Would deny', 'p50 ms', 'p95 ms', 'Bytes out', 'First seen', 'Last seen'], endpointRows)}
<h2>Denied and would-be-denied requests</h2>
${table(['Count', 'Decision', 'Code', 'Method', 'Host', 'Path shape', 'Pack entry that would allow it'], deniedRows)}
<h2>Allowed CONNECTs whose tunnel failed</h2>
<p>The client's TLS handshake with the gateway (does it trust the gateway's CA?) or, in tunnel mode, the provider.</p>
${table(['Count', 'Code', 'Host', 'Last reason', 'First seen', 'Last seen'], failedRows)}
<h2>Enabled endpoints never used in this period</h2>
<p>Candidates to remove from the allowlist once the period covers a full sync cycle.</p>
${table(['Provider', 'Endpoint', 'Source', 'Reason'], unusedRows)}
</body>
</html>
`;
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const MAX_SERIES = COLORS.length;

/** A line per endpoint (the busiest eight), hourly points; daily when the period is long. */
function chart(r: UsageReport): string {
  const series = [...r.hourly].sort((a, b) => total(b.hours) - total(a.hours)).slice(0, MAX_SERIES);
  const times = series.flatMap((s) => s.hours.map(([t]) => t));
  if (times.length === 0) return '<p>No allowed calls in this period.</p>';
  const start = Math.min(...times);
  const end = Math.max(...times);
  const bucket = end - start > 72 * 3_600_000 ? 86_400_000 : 3_600_000;
  const bucketed = series.map((s) => {
    const m = new Map<number, number>();
    for (const [t, n] of s.hours) m.set(t - (t % bucket), (m.get(t - (t % bucket)) ?? 0) + n);
    return { endpoint: s.endpoint, points: m };
  });
  const first = start - (start % bucket);
  const slots = Math.floor((end - first) / bucket) + 1;
  const max = Math.max(1, ...bucketed.flatMap((s) => [...s.points.values()]));
  const [w, h, pad] = [900, 300, 40];
  const x = (i: number) => pad + (slots === 1 ? (w - 2 * pad) / 2 : (i * (w - 2 * pad)) / (slots - 1));
  const y = (n: number) => h - pad - (n * (h - 2 * pad)) / max;
  const lines = bucketed.map((s, k) => {
    const pts = Array.from({ length: slots }, (_, i) => `${x(i).toFixed(1)},${y(s.points.get(first + i * bucket) ?? 0).toFixed(1)}`).join(' ');
    return `<polyline fill="none" stroke="${COLORS[k]}" stroke-width="2" points="${pts}"><title>${esc(s.endpoint)}</title></polyline>`;
  });
  const label = (t: number) => new Date(t).toISOString().slice(0, bucket === 86_400_000 ? 10 : 13).replace('T', ' ');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" role="img" aria-label="Calls per endpoint per ${bucket === 86_400_000 ? 'day' : 'hour'}">
<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="#888"/>
<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${h - pad}" stroke="#888"/>
<text x="${pad - 6}" y="${pad + 4}" text-anchor="end" font-size="11">${max}</text>
<text x="${pad - 6}" y="${h - pad + 4}" text-anchor="end" font-size="11">0</text>
<text x="${pad}" y="${h - pad + 18}" font-size="11">${esc(label(first))}</text>
<text x="${w - pad}" y="${h - pad + 18}" text-anchor="end" font-size="11">${esc(label(first + (slots - 1) * bucket))}</text>
${lines.join('\n')}
</svg>
<p class="legend">${bucketed.map((s, k) => `<span><i style="background:${COLORS[k]}"></i>${esc(s.endpoint)}</span>`).join('')}</p>
<p>Calls per ${bucket === 86_400_000 ? 'day' : 'hour'}, the ${bucketed.length} busiest endpoints.</p>`;
}

function total(hours: readonly (readonly [number, number])[]): number {
  return hours.reduce((sum, [, n]) => sum + n, 0);
}

function row(cells: readonly (string | number)[]): string {
  return `<tr>${cells.map((c) => (typeof c === 'number' ? `<td class="n">${c}</td>` : `<td>${esc(c)}</td>`)).join('')}</tr>`;
}

function table(head: readonly string[], rows: readonly string[]): string {
  if (rows.length === 0) return '<p>None.</p>';
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table>`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
