import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LoadedPolicy } from '../policy/load.js';
import { rulesContext } from '../rules/context.js';
import { RULES_FORMATS, type RulesFormat } from '../rules/formats.js';
import { renderSquid, SQUID_DEFAULTS } from '../rules/squid.js';
import { EXIT, type CliIo } from './io.js';

export interface RulesOptions {
  readonly format: RulesFormat | 'all';
  readonly out?: string | undefined;
  readonly provider?: string | undefined;
  readonly squidCa?: string | undefined;
}

/** `idp-egress rules`: the policy as rules for the firewalls and proxies a site already runs. */
export function runRules(loaded: LoadedPolicy, options: RulesOptions, io: CliIo): number {
  if (options.provider && !loaded.policy.providers.some((p) => p.provider === options.provider && p.enabled)) {
    const on = loaded.policy.providers.filter((p) => p.enabled).map((p) => p.provider);
    io.err(`idp-egress: provider ${JSON.stringify(options.provider)} is not enabled; enabled: ${on.join(', ')}\n`);
    return EXIT.ERROR;
  }
  const ctx = rulesContext(loaded, options.provider);
  const render = (format: RulesFormat) =>
    format === 'squid' ? renderSquid(ctx, { ...SQUID_DEFAULTS, ...(options.squidCa ? { caFile: options.squidCa } : {}) }) : RULES_FORMATS[format].render(ctx);
  if (options.format === 'all') {
    if (!options.out) {
      io.err('idp-egress: --format all writes one file per format; give --out DIR\n');
      return EXIT.ERROR;
    }
    const dir = resolve(io.cwd, options.out);
    mkdirSync(dir, { recursive: true });
    for (const format of Object.keys(RULES_FORMATS) as RulesFormat[]) {
      writeFileSync(join(dir, RULES_FORMATS[format].file), render(format));
      io.err(`wrote ${join(dir, RULES_FORMATS[format].file)}\n`);
    }
    return EXIT.OK;
  }
  const text = render(options.format);
  if (options.out) writeFileSync(resolve(io.cwd, options.out), text);
  else io.out(text);
  return EXIT.OK;
}
