import { periodOf, reportSections } from './sections.js';
import { UPLOT_CSS, UPLOT_JS } from './uplot.js';
import type { UsageReport } from './usage-report.js';

/**
 * The usage report as one self-contained HTML file: the same sections as the text report, and a
 * chart of allowed, denied, would-deny and failed calls over the period drawn by uPlot, inlined
 * with its data, so the file opens anywhere without a network. Every value from the logs is
 * escaped (hosts and paths in denied requests come from clients), in the markup and in the
 * chart's JSON alike.
 */
export function renderHtml(r: UsageReport): string {
  const sections = reportSections(r)
    .map((s) => `<h2>${esc(s.title)}</h2>\n${s.note ? `<p class="note">${esc(s.note)}</p>\n` : ''}${s.rows.length > 0 ? table(s.head, s.rows) : `<p class="empty">${esc(s.empty)}</p>`}`)
    .join('\n');
  const perDay = r.timeline.bucketMs >= 86_400_000;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>idp-egress usage report</title>
<style>
${UPLOT_CSS}
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 2em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #555; max-width: 60em; }
.empty { color: #555; font-style: italic; }
</style>
</head>
<body>
<h1>idp-egress usage report</h1>
<p>Period: ${esc(periodOf(r))}. Events: ${r.events}.</p>
<h2>Calls over time, per ${perDay ? 'day' : 'hour'}</h2>
<div id="chart"></div>
<noscript><p class="empty">The chart needs JavaScript; the tables below hold the same counts.</p></noscript>
${sections}
<script>${UPLOT_JS}</script>
<script>
(function () {
  var r = ${scriptJson({ t: r.timeline.t.map((t) => t / 1000), allowed: r.timeline.allowed, denied: r.timeline.denied, wouldDeny: r.timeline.wouldDeny, failed: r.timeline.failed })};
  var box = document.getElementById('chart');
  if (r.t.length === 0) { box.textContent = 'No calls in this period.'; return; }
  // Few buckets are drawn as points: a line through one point is no line at all.
  var points = { show: r.t.length <= 60, size: 6 };
  new uPlot({
    width: 960,
    height: 300,
    scales: { x: { time: true, range: function (u, min, max) { var x = u.data[0]; return [x[0] - ${perDay ? 43200 : 1800}, x[x.length - 1] + ${perDay ? 43200 : 1800}]; } } },
    axes: [{}, { label: 'calls per ${perDay ? 'day' : 'hour'}' }],
    series: [
      {},
      { label: 'allowed', stroke: '#216e4e', points: points },
      { label: 'denied', stroke: '#ae2a19', points: points },
      { label: 'would deny', stroke: '#a54800', points: points },
      { label: 'failed upstream', stroke: '#5e4db2', points: points },
    ],
  }, [r.t, r.allowed, r.denied, r.wouldDeny, r.failed], box);
})();
</script>
</body>
</html>
`;
}

/** JSON inside a script element: no "</script>" or "<!--" can end or confuse it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function table(head: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const body = rows.map((cells) => `<tr>${cells.map((c) => (typeof c === 'number' ? `<td class="n">${c}</td>` : `<td>${esc(c)}</td>`)).join('')}</tr>`);
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>\n${body.join('\n')}\n</tbody></table>`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
