import { columns } from '../cli/io.js';
import type { ProbeResult, StepName } from './run.js';

const STEP_COLUMNS: readonly StepName[] = ['dns', 'tcp', 'proxy', 'tls', 'http'];

function cell(r: ProbeResult, step: StepName): string {
  const s = r.steps.find((x) => x.step === step);
  if (!s) return '-';
  if (!s.ok) return 'FAIL';
  switch (step) {
    case 'dns':
      return s.detail.split(',')[0]!.replace(' (upstream.resolve)', ' (pinned)');
    case 'tls':
      return s.detail.split(',')[0]!;
    case 'proxy':
    case 'http':
      return s.detail.slice(s.detail.lastIndexOf(' ') + 1);
    default:
      return `${s.ms} ms`;
  }
}

/** The table an engineer reads: a verdict per host, then each failure with its fix. */
export function renderProbeTable(results: readonly ProbeResult[], via: string | undefined): string {
  const steps = STEP_COLUMNS.filter((s) => (via ? s !== 'dns' : s !== 'proxy'));
  const rows = [
    ['PROVIDER', 'HOST', ...steps.map((s) => s.toUpperCase()), 'VERDICT'],
    ...results.map((r) => [
      r.provider,
      r.port === 443 ? r.host : `${r.host}:${r.port}`,
      ...steps.map((s) => (r.verdict === 'skipped' ? '-' : cell(r, s))),
      r.verdict === 'fail' ? `FAIL ${r.failure!.code}` : r.verdict,
    ]),
  ];
  const failed = results.filter((r) => r.verdict === 'fail');
  const skipped = results.filter((r) => r.verdict === 'skipped');
  const ok = results.length - failed.length - skipped.length;
  const details = [
    ...failed.map((r) => `\n${r.host}:${r.port} (${r.provider}): ${r.failure!.what} [${r.failure!.code}]\n  fix: ${r.failure!.fix}\n`),
    ...skipped.map((r) => `\n${r.host} (${r.provider}): not probed: ${r.skipped}\n`),
  ];
  return `${via ? `Probing through ${via}` : 'Probing directly from this host'}\n\n${columns(rows)}${details.join('')}\n${results.length} host(s): ${ok} ok, ${failed.length} failed, ${skipped.length} not probed\n`;
}

export function renderProbeJson(results: readonly ProbeResult[], via: string | undefined): string {
  return `${JSON.stringify({ via: via ?? null, ok: results.every((r) => r.verdict !== 'fail'), results }, null, 2)}\n`;
}
