import type { RulesContext } from './context.js';
import { renderHosts } from './hosts.js';
import { renderCsv, renderJson } from './inventory.js';
import { renderSquid } from './squid.js';

/** The rules formats: name, the file `--format all` writes, and the renderer. */
export const RULES_FORMATS = {
  hosts: { file: 'egress-hosts.txt', render: renderHosts },
  csv: { file: 'egress-inventory.csv', render: renderCsv },
  json: { file: 'egress-inventory.json', render: renderJson },
  squid: { file: 'squid.conf', render: (ctx: RulesContext) => renderSquid(ctx) },
} as const satisfies Record<string, { file: string; render: (ctx: RulesContext) => string }>;

export type RulesFormat = keyof typeof RULES_FORMATS;
export const RULES_FORMAT_NAMES = Object.keys(RULES_FORMATS) as RulesFormat[];
