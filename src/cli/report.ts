import { siteConfigSchema } from '../config/schema.js';
import { compilePolicy } from '../policy/compile.js';
import type { LoadedPolicy } from '../policy/load.js';
import { readEvents } from '../report/read-logs.js';
import { renderReport, type ReportFormat } from '../report/render.js';
import { renderSuggestions, SuggestionBuilder, SUGGEST_FORMATS, type SuggestFormat } from '../report/suggest.js';
import { UsageAggregator } from '../report/usage-report.js';
import { EXIT, type CliIo } from './io.js';

const RELATIVE = /^(\d+)(m|h|d)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** An ISO date/time, or a span back from now such as 24h or 7d. */
export function parseTimeBound(value: string, now = Date.now()): number | undefined {
  const rel = RELATIVE.exec(value);
  if (rel) return now - Number(rel[1]) * UNIT_MS[rel[2] as keyof typeof UNIT_MS];
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

export interface ReportOptions {
  readonly format: ReportFormat;
  /** Print the config changes that would allow the denied calls instead of the report. */
  readonly suggest?: boolean | undefined;
  readonly since?: string | undefined;
  readonly until?: string | undefined;
}

/** `idp-egress report LOG...`: what is really used, what is never used, what was denied. */
export async function runReport(loaded: LoadedPolicy, files: readonly string[], options: ReportOptions, io: CliIo): Promise<number> {
  const since = options.since === undefined ? undefined : parseTimeBound(options.since);
  const until = options.until === undefined ? undefined : parseTimeBound(options.until);
  for (const [name, given, parsed] of [['--since', options.since, since], ['--until', options.until, until]] as const) {
    if (given !== undefined && parsed === undefined) {
      io.err(`idp-egress: ${name} ${JSON.stringify(given)} is neither a date/time (2026-11-01, 2026-11-01T08:00:00Z) nor a span such as 24h or 7d\n`);
      return EXIT.ERROR;
    }
  }
  if (options.suggest && !(SUGGEST_FORMATS as readonly string[]).includes(options.format)) {
    io.err(`idp-egress: --suggest prints ${SUGGEST_FORMATS.join(', ')}; not ${options.format}\n`);
    return EXIT.ERROR;
  }
  // Every shipped pack on and unbound: which entry would allow a denied call if it were enabled.
  const reference = compilePolicy(loaded.packs, siteConfigSchema.parse({}));
  // One or the other reads the logs: --suggest prints only the changes.
  const suggestions = options.suggest ? new SuggestionBuilder(loaded.policy, reference, loaded.packs, loaded.config.config, { since, until }) : undefined;
  const aggregator = suggestions ? undefined : new UsageAggregator(loaded.policy, reference, { since, until }, { packs: loaded.packs, config: loaded.config.config });
  for (const file of files) {
    try {
      for await (const event of readEvents(file, (note) => io.err(`idp-egress: warning: ${note}\n`))) {
        if (suggestions) suggestions.addEvent(event);
        else aggregator!.add(event);
      }
    } catch (err) {
      io.err(`idp-egress: cannot read ${file}: ${(err as Error).message}\n`);
      return EXIT.ERROR;
    }
  }
  if (suggestions) {
    io.out(renderSuggestions(suggestions.result(), options.format as SuggestFormat));
    return EXIT.OK;
  }
  const report = aggregator!.report(since === undefined ? undefined : new Date(since).toISOString(), until === undefined ? undefined : new Date(until).toISOString());
  io.out(renderReport(report, options.format));
  return EXIT.OK;
}
