/**
 * Loaded with --import into the gateway or the floor by bench/tail.ts: marks when V8 collected
 * garbage, when each request was inside node:http, and when the audit and metrics sinks ran (a
 * turn's records or a commit, gateway only), and writes the marks to TAIL_PROBE_OUT as JSON on
 * SIGUSR2, then starts over. A bench instrument, never loaded by a deployment.
 */
import { subscribe } from 'node:diagnostics_channel';
import { renameSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { AuditLog } from '../src/audit/audit-log.js';
import { GatewayMetrics } from '../src/audit/metrics.js';
import type { Outcome } from '../src/audit/outcome.js';

export type MarkKind = 'scavenge' | 'full' | 'sink' | 'request';
/** What happened, and its start and end in ms since the epoch (both processes' clocks agree). */
export type Mark = readonly [kind: MarkKind, start: number, end: number];

const OUT = process.env.TAIL_PROBE_OUT;
if (!OUT) throw new Error('bench/tail-probe: set TAIL_PROBE_OUT to the file its marks are written to (bench/tail.ts does)');
const marks: Mark[] = [];
const now = () => performance.timeOrigin + performance.now();

// The same modules the gateway loads (dist/src), so wrapping their prototypes reaches its sinks.
for (const sink of [AuditLog.prototype, GatewayMetrics.prototype] as { recordAll(o: readonly Outcome[]): void; commit(): void }[]) {
  const { recordAll, commit } = sink;
  sink.recordAll = function (this: unknown, outcomes: readonly Outcome[]) {
    const start = now();
    recordAll.call(this, outcomes);
    marks.push(['sink', start, now()]);
  };
  sink.commit = function (this: unknown) {
    const start = now();
    commit.call(this);
    marks.push(['sink', start, now()]);
  };
}

new PerformanceObserver((list) => {
  for (const e of list.getEntries() as (PerformanceEntry & { detail?: { kind?: number } })[]) {
    const start = performance.timeOrigin + e.startTime;
    marks.push([e.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR ? 'scavenge' : 'full', start, start + e.duration]);
  }
}).observe({ entryTypes: ['gc'] });

const started = new WeakMap<IncomingMessage, number>();
subscribe('http.server.request.start', (m) => started.set((m as { request: IncomingMessage }).request, now()));
subscribe('http.server.response.finish', (m) => {
  const start = started.get((m as { request: IncomingMessage }).request);
  if (start !== undefined) marks.push(['request', start, now()]);
});

// Written aside and renamed into place: a reader polling OUT sees the last dump or this one whole,
// never the empty file writeFileSync leaves between its truncate and its write.
process.on('SIGUSR2', () => {
  writeFileSync(`${OUT}.part`, JSON.stringify(marks));
  renameSync(`${OUT}.part`, OUT);
  marks.length = 0;
});
