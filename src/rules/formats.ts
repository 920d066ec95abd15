import { renderAzureArm, renderAzureTerraform } from './azure.js';
import type { RulesContext } from './context.js';
import { renderHosts } from './hosts.js';
import { renderCsv, renderJson } from './inventory.js';
import { renderIpset, renderIptables } from './iptables.js';
import { renderJvm } from './jvm.js';
import { renderDnsmasq, renderNftables } from './nftables.js';
import { renderPac } from './pac.js';
import type { SiteConfig } from '../config/schema.js';
import type { Resolver } from '../proxy/upstream.js';
import { resolveForRules, type ResolvedAddresses } from './resolve.js';
import { renderSquid, SQUID_DEFAULTS } from './squid.js';
import { renderSuricata } from './suricata.js';

export interface FormatOptions {
  readonly squidCa?: string | undefined;
  /** The gateway as clients reach it (PAC), host:port. */
  readonly proxy: string;
  /** For IP-based formats: the hosts' addresses now (resolveForRules). */
  readonly resolved?: ResolvedAddresses | undefined;
}

const NOTHING_RESOLVED: ResolvedAddresses = { v4: new Map(), v6: new Map(), failed: new Map() };

/** The rules formats: name, the file `--format all` writes, and the renderer. */
export const RULES_FORMATS = {
  hosts: { file: 'egress-hosts.txt', render: renderHosts },
  csv: { file: 'egress-inventory.csv', render: renderCsv },
  json: { file: 'egress-inventory.json', render: renderJson },
  squid: { file: 'squid.conf', render: (ctx: RulesContext, o: FormatOptions) => renderSquid(ctx, { ...SQUID_DEFAULTS, ...(o.squidCa ? { caFile: o.squidCa } : {}) }) },
  pac: { file: 'idp-egress.pac', render: (ctx: RulesContext, o: FormatOptions) => renderPac(ctx, { proxy: o.proxy }) },
  nftables: { file: 'idp-egress.nft', render: (ctx: RulesContext, o: FormatOptions) => renderNftables(ctx, o.resolved ?? NOTHING_RESOLVED) },
  dnsmasq: { file: 'dnsmasq-idp-egress.conf', render: (ctx: RulesContext) => renderDnsmasq(ctx) },
  ipset: { file: 'idp-egress.ipset', render: (ctx: RulesContext, o: FormatOptions) => renderIpset(ctx, o.resolved ?? NOTHING_RESOLVED) },
  iptables: { file: 'idp-egress.rules.v4', render: (ctx: RulesContext) => renderIptables(ctx, 4) },
  ip6tables: { file: 'idp-egress.rules.v6', render: (ctx: RulesContext) => renderIptables(ctx, 6) },
  suricata: { file: 'idp-egress.rules', render: (ctx: RulesContext) => renderSuricata(ctx) },
  jvm: { file: 'jvm-flags.txt', render: (ctx: RulesContext, o: FormatOptions) => renderJvm(ctx, o.proxy) },
  'azure-firewall': { file: 'azure-firewall.json', render: (ctx: RulesContext) => renderAzureArm(ctx) },
  'azure-firewall-terraform': { file: 'azure-firewall.tf', render: (ctx: RulesContext) => renderAzureTerraform(ctx) },
} as const satisfies Record<string, { file: string; render: (ctx: RulesContext, options: FormatOptions) => string }>;

export type RulesFormat = keyof typeof RULES_FORMATS;

/** Formats made of addresses: rendering them resolves the hosts first. */
const ADDRESS_FORMATS: ReadonlySet<RulesFormat> = new Set(['nftables', 'ipset']);

/** The hosts' addresses, resolved once, if any of `formats` is made of addresses. */
export async function addressesFor(
  formats: readonly RulesFormat[],
  ctx: RulesContext,
  config: SiteConfig,
  resolver?: Resolver,
): Promise<ResolvedAddresses | undefined> {
  return formats.some((f) => ADDRESS_FORMATS.has(f)) ? resolveForRules(ctx.hosts, config, resolver) : undefined;
}
export const RULES_FORMAT_NAMES = Object.keys(RULES_FORMATS) as RulesFormat[];
