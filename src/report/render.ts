import { columns } from '../core/columns.js';
import { renderHtml } from './html.js';
import { periodOf, reportSections } from './sections.js';
import type { UsageReport } from './usage-report.js';

export const REPORT_FORMATS = ['text', 'json', 'markdown', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export function renderReport(r: UsageReport, format: ReportFormat): string {
  if (format === 'json') return `${JSON.stringify(r, null, 2)}\n`;
  if (format === 'html') return renderHtml(r);
  const sections = reportSections(r);
  if (format === 'markdown') {
    return [
      '# idp-egress usage report',
      '',
      `Period: ${periodOf(r)}. Events: ${r.events}.`,
      '',
      ...sections.flatMap((s) => [`## ${s.title}`, '', ...(s.note ? [s.note, ''] : []), s.rows.length > 0 ? table(s.head, s.rows.map((row) => row.map(String))) : `_${s.empty[0]!.toUpperCase()}${s.empty.slice(1)}._\n`]),
    ].join('\n');
  }
  return [
    `idp-egress usage report: ${periodOf(r)}, ${r.events} events`,
    '',
    ...sections.flatMap((s) => [`${s.title}:`, ...(s.note ? [`(${s.note})`] : []), s.rows.length > 0 ? columns([[...s.head], ...s.rows.map((row) => row.map(String))]) : `  (${s.empty})\n`]),
  ].join('\n');
}

function table(head: readonly string[], body: readonly (readonly string[])[]): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n') + '\n';
}
