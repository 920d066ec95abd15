import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LoadedPolicy } from '../policy/load.js';
import { rulesContext } from '../rules/context.js';
import { addressesFor, RULES_FORMATS, type RulesFormat } from '../rules/formats.js';
import type { Resolver } from '../proxy/upstream.js';
import { parseHostPort } from '../config/schema.js';
import { narrowToUsed, usedInLogs } from '../rules/from-log.js';
import { EXIT, type CliIo } from './io.js';

export interface RulesOptions {
  readonly format: RulesFormat | 'all';
  readonly out?: string | undefined;
  readonly provider?: string | undefined;
  readonly squidCa?: string | undefined;
  /** The gateway as clients reach it (PAC); default from the config's listen address. */
  readonly proxy?: string | undefined;
  /** Only the hosts and endpoints allowed calls used in these audit logs. */
  readonly fromLog?: readonly string[] | undefined;
  /** DNS for IP-based formats; the system resolver unless a test injects one. */
  readonly resolver?: Resolver;
}

/** `idp-egress rules`: the policy as rules for the firewalls and proxies a site already runs. */
export async function runRules(loaded: LoadedPolicy, options: RulesOptions, io: CliIo): Promise<number> {
  if (options.provider && !loaded.policy.providers.some((p) => p.provider === options.provider && p.enabled)) {
    const on = loaded.policy.providers.filter((p) => p.enabled).map((p) => p.provider);
    io.err(`idp-egress: provider ${JSON.stringify(options.provider)} is not enabled; enabled: ${on.join(', ')}\n`);
    return EXIT.ERROR;
  }
  const full = rulesContext(loaded, options.provider);
  let ctx = full;
  if (options.fromLog) {
    const used = await usedInLogs(options.fromLog.map((f) => resolve(io.cwd, f)));
    ctx = { ...full, hosts: narrowToUsed(full.hosts, used), source: `${full.source}, narrowed to the calls in ${options.fromLog.join(', ')}` };
  }
  const listen = parseHostPort(loaded.config.config.listen, true)!;
  const proxy = options.proxy ?? `${listen.host === '0.0.0.0' || listen.host === '::' ? '<gateway-host>' : listen.host}:${listen.port}`;
  const wanted = options.format === 'all' ? (Object.keys(RULES_FORMATS) as RulesFormat[]) : [options.format];
  const resolved = await addressesFor(wanted, ctx, loaded.config.config, options.resolver);
  for (const [host, why] of resolved?.failed ?? []) io.err(`idp-egress: warning: ${host} did not resolve (${why}); IP-based rules leave it to the dynamic sets\n`);
  const render = (format: RulesFormat) => RULES_FORMATS[format].render(ctx, { squidCa: options.squidCa, proxy, resolved });
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
