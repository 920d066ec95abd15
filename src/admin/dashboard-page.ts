import { MAX_UNWRITTEN_BYTES } from '../audit/line-writer.js';
import { UPLOT_CSS, UPLOT_JS } from '../report/uplot.js';

/**
 * The live dashboard's assets: one HTML page, its script and style, and uPlot (MIT, no
 * dependencies) for the chart. All of them are served by the admin listener itself, so the page
 * works on an air-gapped host, under a Content-Security-Policy that allows nothing but these
 * files and the page's own JSON (no inline script or style, no other origin).
 */

/** CSP Level 3: the page's own files and JSON only; nothing inline, no frames, no forms. */
export const DASHBOARD_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>idp-egress</title>
<link rel="icon" href="favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="uplot.css">
<link rel="stylesheet" href="dashboard.css">
</head>
<body>
<header>
  <h1>idp-egress</h1>
  <p id="summary">loading...</p>
  <p id="stale" hidden>the gateway did not answer the last refresh; showing what it said before</p>
</header>
<main>
  <section><h2>Providers</h2><div id="providers" class="cards"></div></section>
  <section>
    <h2>Calls per minute</h2>
    <p id="totals"></p>
    <div id="chart"></div>
  </section>
  <section><h2>Latest denials</h2><p class="hint">Newest first; in observe mode they were forwarded and logged as would_deny. "What would allow it" is what <code>idp-egress report --suggest</code> prints as YAML.</p><div id="denials"></div></section>
  <section><h2>Upstream failures</h2><p class="hint">Allowed calls the provider side failed (DNS, connect, TLS, reset, timeout): the server saw 502 or 504. <code>idp-egress probe --provider NAME</code> finds the step.</p><div id="upstream"></div></section>
  <section><h2>Failed tunnels</h2><p class="hint">Allowed CONNECTs whose client then refused the gateway's certificate: a JVM that does not trust the CA yet.</p><div id="tunnels"></div></section>
  <section><h2>Token calls</h2><p class="hint">By outcome, with the provider's error and AADSTS codes; never a secret.</p><div id="tokens"></div></section>
  <section><h2>Endpoints used</h2><div id="used"></div></section>
  <section><h2>Endpoints never used since start</h2><div id="unused"></div></section>
  <section><h2>Gateway</h2><div id="gateway"></div></section>
</main>
<script src="uplot.js"></script>
<script src="dashboard.js"></script>
</body>
</html>
`;

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 1.5rem 2rem; color: #1d2125; background: #fff; }
header { border-bottom: 1px solid #d0d4d9; margin-bottom: 1rem; }
h1 { font-size: 1.4rem; margin: 1rem 0 0.2rem; }
h2 { font-size: 1.1rem; margin: 1.4rem 0 0.4rem; }
.hint { color: #5e6c84; margin: 0 0 0.4rem; }
#stale { color: #ae2a19; font-weight: 600; }
.cards { display: flex; flex-wrap: wrap; gap: 0.6rem; }
.card { border: 1px solid #d0d4d9; border-radius: 6px; padding: 0.5rem 0.8rem; min-width: 13rem; }
.card.off { background: #f4f5f7; color: #5e6c84; }
.card h3 { margin: 0 0 0.2rem; font-size: 1rem; }
.bad { color: #ae2a19; }
.good { color: #216e4e; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.2rem 0.5rem; border-bottom: 1px solid #ebecf0; vertical-align: top; }
th { font-weight: 600; background: #f4f5f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, td.mono { font-family: ui-monospace, monospace; font-size: 0.9em; }
.empty { color: #5e6c84; font-style: italic; }
`;

const SCRIPT = `'use strict';
(function () {
  var chart;
  var REFRESH_MS = 2000;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function when(ms) {
    if (ms === undefined || ms === null) return '-';
    return new Date(ms).toISOString().replace('T', ' ').replace(/\\.\\d+Z$/, 'Z');
  }
  function ago(ms, now) {
    if (ms === undefined || ms === null) return 'never';
    var s = Math.max(0, Math.round((now - ms) / 1000));
    return s < 90 ? s + ' s ago' : s < 5400 ? Math.round(s / 60) + ' min ago' : Math.round(s / 3600) + ' h ago';
  }
  // Every value from the gateway goes in as text: the page never parses data as markup.
  function table(id, head, rows, numeric) {
    var box = document.getElementById(id);
    box.replaceChildren();
    if (rows.length === 0) { box.appendChild(el('p', 'none', 'empty')); return; }
    var t = el('table'), tr = el('tr');
    head.forEach(function (h) { tr.appendChild(el('th', h)); });
    t.appendChild(tr);
    rows.forEach(function (r) {
      var row = el('tr');
      r.forEach(function (c, i) { row.appendChild(el('td', c, (numeric || []).indexOf(i) >= 0 ? 'num' : undefined)); });
      t.appendChild(row);
    });
    box.appendChild(t);
  }

  function providers(s) {
    var box = document.getElementById('providers');
    box.replaceChildren();
    s.providers.forEach(function (p) {
      var card = el('div', undefined, p.enabled ? 'card' : 'card off');
      card.dataset.provider = p.provider;
      card.appendChild(el('h3', p.title));
      card.appendChild(el('div', p.enabled ? 'on, ' + p.mode + ', ' + p.tls : 'off: ' + p.off));
      if (p.enabled) {
        card.appendChild(el('div', 'last allowed call: ' + ago(p.lastAllowed, s.now), p.lastAllowed ? 'good' : undefined));
        card.appendChild(el('div', p.lastFailure ? 'last failure: ' + p.lastFailure.code + ', ' + ago(p.lastFailure.time, s.now) : 'no failure', p.lastFailure ? 'bad' : undefined));
      }
      box.appendChild(card);
    });
  }

  function drawChart(s) {
    var x = s.series.t.map(function (t) { return t / 1000; });
    var data = [x, s.series.allowed, s.series.denied, s.series.wouldDeny, s.series.failed];
    // A short window has one or two points: draw them as points, not as a line that is not there.
    var points = { show: x.length <= 60, size: 6 };
    if (!chart) {
      var box = document.getElementById('chart');
      chart = new uPlot({
        width: Math.max(320, box.clientWidth || 900),
        height: 240,
        scales: {
          // From the data itself (uPlot pads a single point to a span of its own), at least the
          // last ten minutes, so that one or two points sit in a readable window.
          x: {
            time: true,
            range: function (u, min, max) {
              var xs = u.data[0];
              if (!xs || xs.length === 0) return [min, max];
              var last = xs[xs.length - 1];
              return [Math.min(xs[0], last - 600), last + 30];
            },
          },
          y: { range: function (u, min, max) { return [0, Math.max(4, max * 1.1)]; } },
        },
        axes: [{}, { label: 'calls per minute' }],
        series: [
          {},
          { label: 'allowed', stroke: '#216e4e', points: points },
          { label: 'denied', stroke: '#ae2a19', points: points },
          { label: 'would deny', stroke: '#a54800', points: points },
          { label: 'failed upstream', stroke: '#5e4db2', points: points },
        ],
      }, data, box);
    } else {
      chart.setData(data);
    }
  }

  function render(s) {
    var ca = Math.floor((s.ca.notAfter * 1000 - s.now) / 86400000);
    document.getElementById('summary').textContent = 'mode ' + s.mode + '; up since ' + when(s.startedAt) + '; refreshed ' + when(s.now);
    document.getElementById('totals').textContent = 'since start: ' + s.totals.allowed + ' allowed, ' + s.totals.denied + ' denied, ' + s.totals.wouldDeny + ' would deny, ' + s.totals.failed + ' failed upstream';
    providers(s);
    drawChart(s);
    table('denials', ['time', 'decision', 'code', 'client', 'request', 'reason', 'what would allow it'],
      s.denials.map(function (d) { return [when(d.time), d.decision, d.code, d.client, d.method + ' ' + d.host + (d.shape.charAt(0) === '/' ? d.shape : ' ' + d.shape), d.reason, d.allowWith]; }));
    table('upstream', ['provider', 'host', 'code', 'count', 'last', 'last reason'],
      s.upstreamFailures.map(function (f) { return [f.provider || '-', f.host, f.code, f.count, when(f.last), f.reason]; }), [3]);
    table('tunnels', ['host', 'code', 'count', 'last', 'last reason'],
      s.failedTunnels.map(function (f) { return [f.host, f.code, f.count, when(f.last), f.reason]; }), [2]);
    table('tokens', ['provider', 'grant type', 'outcome', 'error', 'codes', 'count', 'last'],
      s.tokens.map(function (t) { return [t.provider, t.grantType, t.outcome, t.error || '-', t.codes.length ? t.codes.map(function (c) { return 'AADSTS' + c; }).join(' ') : '-', t.count, when(t.last)]; }), [5]);
    table('used', ['provider', 'endpoint', 'calls', 'last seen'],
      s.endpoints.used.map(function (u) { return [u.provider, u.site ? u.id + ' (site ' + u.site + ')' : u.id, u.calls, when(u.lastSeen)]; }), [2]);
    table('unused', ['provider', 'endpoint', 'source'],
      s.endpoints.unused.map(function (u) { return [u.provider, u.id, u.site ? 'site ' + u.site : u.source]; }));
    table('gateway', ['fact', 'value'], [
      ['audit log', s.audit.length === 0 ? 'written' : s.audit.map(function (a) { return 'cannot write ' + a.destination + ' since ' + when(a.since) + ' (' + a.code + '): up to ${MAX_UNWRITTEN_BYTES / 1024 / 1024} MB of its lines are kept in memory for it, and /readyz says not ready'; }).join('; ')],
      ['interception CA expires', when(s.ca.notAfter * 1000) + ' (in ' + ca + ' days)'],
      ['client connections', s.connections.held + ' held, at most ' + s.connections.limit + (s.connections.limit < s.connections.configured ? ' (limits.maxConnections is ' + s.connections.configured + ', lowered to fit the open-files limit of ' + s.connections.openFilesLimit + ': see the start-up note)' : '')],
      ['leaf certificates cached', s.leafCache],
    ].concat(s.reloads.map(function (r) { return ['reload at ' + when(r.time), (r.ok ? 'applied: ' : 'refused: ') + r.detail]; })));
    document.body.dataset.refreshed = String(s.now);
  }

  function refresh() {
    fetch('dashboard/state.json', { cache: 'no-store', credentials: 'same-origin' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (s) { document.getElementById('stale').hidden = true; render(s); })
      .catch(function () { document.getElementById('stale').hidden = false; })
      .then(function () { setTimeout(refresh, REFRESH_MS); });
  }
  refresh();
})();
`;

/** The dashboard's files by path, with their content types. */
export const DASHBOARD_FILES: ReadonlyMap<string, { readonly type: string; readonly body: string }> = new Map([
  ['/', { type: 'text/html; charset=utf-8', body: PAGE }],
  ['/dashboard.js', { type: 'text/javascript; charset=utf-8', body: SCRIPT }],
  ['/dashboard.css', { type: 'text/css; charset=utf-8', body: STYLE }],
  ['/uplot.js', { type: 'text/javascript; charset=utf-8', body: UPLOT_JS }],
  ['/uplot.css', { type: 'text/css; charset=utf-8', body: UPLOT_CSS }],
  // Browsers ask for an icon; one of its own keeps the page free of 404s.
  ['/favicon.svg', { type: 'image/svg+xml', body: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#216e4e"/><path d="M4 8h8M8 4v8" stroke="#fff" stroke-width="2"/></svg>' }],
]);
