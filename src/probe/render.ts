import { columns } from '../core/columns.js';
import type { ProbeResult, StepName } from './run.js';

const STEP_COLUMNS: readonly StepName[] = ['dns', 'tcp', 'proxy', 'tls', 'http'];

/** The table an engineer reads: a verdict per host, then each failure with its fix. */
export function renderProbeTable(results: readonly ProbeResult[], via: string | undefined): string {
  const steps = STEP_COLUMNS.filter((s) => (via ? s !== 'dns' : s !== 'proxy'));
  const rows = [
    ['PROVIDER', 'HOST', ...steps.map((s) => s.toUpperCase()), 'VERDICT'],
    ...results.map((r) => [
      r.provider,
      r.port === 443 ? r.host : `${r.host}:${r.port}`,
      ...steps.map((s) => r.steps.find((x) => x.step === s)?.brief ?? '-'),
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
