import type { RulesContext } from './context.js';
import { renderHosts } from './hosts.js';
import { renderCsv, renderJson } from './inventory.js';
import { renderPac } from './pac.js';
import { renderSquid, SQUID_DEFAULTS } from './squid.js';

export interface FormatOptions {
  readonly squidCa?: string | undefined;
  /** The gateway as clients reach it (PAC), host:port. */
  readonly proxy: string;
}

/** The rules formats: name, the file `--format all` writes, and the renderer. */
export const RULES_FORMATS = {
  hosts: { file: 'egress-hosts.txt', render: renderHosts },
  csv: { file: 'egress-inventory.csv', render: renderCsv },
  json: { file: 'egress-inventory.json', render: renderJson },
  squid: { file: 'squid.conf', render: (ctx: RulesContext, o: FormatOptions) => renderSquid(ctx, { ...SQUID_DEFAULTS, ...(o.squidCa ? { caFile: o.squidCa } : {}) }) },
  pac: { file: 'idp-egress.pac', render: (ctx: RulesContext, o: FormatOptions) => renderPac(ctx, { proxy: o.proxy }) },
} as const satisfies Record<string, { file: string; render: (ctx: RulesContext, options: FormatOptions) => string }>;

export type RulesFormat = keyof typeof RULES_FORMATS;
export const RULES_FORMAT_NAMES = Object.keys(RULES_FORMATS) as RulesFormat[];
