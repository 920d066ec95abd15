/**
 * npm run bench:report: the usage report over 1,000,000 audit lines, against a baseline that
 * only reads and parses the same file, in one run. Targets (issue 4): under 10 s and 200 MB.
 */
import { createWriteStream, statSync } from 'node:fs';
import { join } from 'node:path';
import { siteConfigSchema } from '../src/config/schema.js';
import { compilePolicy } from '../src/policy/compile.js';
import { loadPacks } from '../src/policy/pack.js';
import { readEvents } from '../src/report/read-logs.js';
import { UsageAggregator } from '../src/report/usage-report.js';
import { runFolder } from './run-folder.js';

const LINES = 1_000_000;
const run = runFolder('idp-egress-report-');
const file = join(run.dir, 'audit.jsonl');
const shapes = [
  (i: number) => ({ decision: 'allow', code: 'ALLOWED', provider: 'entra-id', endpoint: 'graph.users.list', url: `https://graph.microsoft.com/v1.0/users?$top=999&$skiptoken=${i}`, status: 200 }),
  (i: number) => ({ decision: 'allow', code: 'ALLOWED', provider: 'entra-id', endpoint: 'graph.users.memberOf', url: `https://graph.microsoft.com/v1.0/users/u${i}/memberOf`, status: 200 }),
  (i: number) => ({ decision: 'allow', code: 'ALLOWED', provider: 'okta', endpoint: 'okta.groups.users', url: `https://acme.okta.com/api/v1/groups/00g${i}/users`, status: i % 50 === 0 ? 429 : 200 }),
  (i: number) => ({ decision: 'deny', code: 'PATH_NOT_ALLOWED', url: `https://graph.microsoft.com/v1.0/users/6e7b768e-07e2-4810-8459-${String(i % 1e12).padStart(12, '0')}/drive`, status: 403 }),
];

await new Promise<void>((resolve) => {
  const out = createWriteStream(file);
  let i = 0;
  const write = () => {
    while (i < LINES) {
      const time = new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString();
      const line = JSON.stringify({ level: 30, time, event: 'request', id: `id-${i}`, client: '10.20.0.15', method: 'GET', mode: 'enforce', tls: 'intercept', durationMs: 5 + (i % 100), bytesIn: 0, bytesOut: 1200, ...shapes[i % shapes.length]!(i) });
      i++;
      if (!out.write(`${line}\n`)) return void out.once('drain', write);
    }
    out.end(resolve);
  };
  write();
});
const mb = statSync(file).size / 1024 / 1024;

const t0 = performance.now();
let parsed = 0;
for await (const event of readEvents(file)) if (event) parsed++;
const baselineS = (performance.now() - t0) / 1000;

const policy = compilePolicy(loadPacks(), siteConfigSchema.parse({}));
const t1 = performance.now();
const aggregator = new UsageAggregator(policy, policy);
for await (const event of readEvents(file)) aggregator.add(event);
const report = aggregator.report();
const reportS = (performance.now() - t1) / 1000;
// About 400 MB of audit: not left in the temporary folder.
run.remove();
const peakMb = process.resourceUsage().maxRSS / 1024;

console.log(`idp-egress report benchmark (node ${process.version}): ${parsed.toLocaleString('en-US')} lines, ${mb.toFixed(0)} MB`);
console.log(`  read and parse only (baseline): ${baselineS.toFixed(2)} s`);
console.log(`  full report:                    ${reportS.toFixed(2)} s (${(reportS / baselineS).toFixed(2)} x baseline)   target < 10 s  ${reportS < 10 ? 'met' : 'MISSED'}`);
console.log(`  peak RSS of the process:        ${peakMb.toFixed(0)} MB   target < 200 MB  ${peakMb < 200 ? 'met' : 'MISSED'}`);
console.log(`  (${report.endpoints.length} endpoints, ${report.denied.length} denial shapes)`);
