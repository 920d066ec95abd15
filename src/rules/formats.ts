import { renderAwsDomainList, renderAwsSuricata } from './aws.js';
import { renderAzureArm, renderAzureTerraform } from './azure.js';
import { renderCilium, renderCiliumL7 } from './cilium.js';
import type { RulesContext } from './context.js';
import { renderFortigate } from './fortigate.js';
import { renderHosts } from './hosts.js';
import { CSV_NOTES, renderCsv, renderJson } from './inventory.js';
import { renderIpset, renderIptables } from './iptables.js';
import { renderIstio } from './istio.js';
import { renderJvm } from './jvm.js';
import { KUBERNETES_DEFAULTS, type KubernetesTarget } from './kubernetes.js';
import { renderNetworkPolicy } from './networkpolicy.js';
import { renderDnsmasq, renderNftables } from './nftables.js';
import { renderPac } from './pac.js';
import { PALOALTO_CANNOT, renderPaloAltoDomains, renderPaloAltoUrls } from './paloalto.js';
import type { SiteConfig } from '../config/schema.js';
import type { Resolver } from '../proxy/upstream.js';
import { resolveForRules, type ResolvedAddresses } from './resolve.js';
import { renderSquid, SQUID_DEFAULTS } from './squid.js';
import { renderSuricata } from './suricata.js';

export interface FormatOptions {
  readonly squidCa?: string | undefined;
  /** squid: the http_port address, or a conf.d drop-in with none. */
  readonly squidListen?: string | undefined;
  readonly squidDropIn?: boolean | undefined;
  /** The gateway as clients reach it (PAC), host:port. */
  readonly proxy: string;
  /** For IP-based formats: the hosts' addresses now (resolveForRules). */
  readonly resolved?: ResolvedAddresses | undefined;
  /** Kubernetes formats: the namespace and the Atlassian pods' labels. */
  readonly kubernetes?: { readonly namespace?: string | undefined; readonly podLabels?: Readonly<Record<string, string>> | undefined } | undefined;
}

const NOTHING_RESOLVED: ResolvedAddresses = { v4: new Map(), v6: new Map(), failed: new Map() };

/** The gateway's port as the Atlassian pods dial it, and where they run. */
function kubernetesTarget(o: FormatOptions): KubernetesTarget {
  return { namespace: o.kubernetes?.namespace ?? KUBERNETES_DEFAULTS.namespace, podLabels: o.kubernetes?.podLabels, gatewayPort: Number(o.proxy.slice(o.proxy.lastIndexOf(':') + 1)) };
}

/**
 * The rules formats: name, the file `--format all` writes, and the renderer. A format whose
 * product has no comment syntax carries `notes` instead of a header: what it cannot express,
 * shown to the operator beside the file rather than inside it.
 */
export const RULES_FORMATS = {
  hosts: { file: 'egress-hosts.txt', render: renderHosts },
  csv: { file: 'egress-inventory.csv', render: renderCsv, notes: CSV_NOTES },
  json: { file: 'egress-inventory.json', render: renderJson },
  squid: {
    file: 'squid.conf',
    render: (ctx: RulesContext, o: FormatOptions) =>
      renderSquid(ctx, { ...SQUID_DEFAULTS, ...(o.squidCa ? { caFile: o.squidCa } : {}), ...(o.squidListen ? { listen: o.squidListen } : {}), dropIn: o.squidDropIn === true }),
  },
  pac: { file: 'idp-egress.pac', render: (ctx: RulesContext, o: FormatOptions) => renderPac(ctx, { proxy: o.proxy }) },
  nftables: { file: 'idp-egress.nft', render: (ctx: RulesContext, o: FormatOptions) => renderNftables(ctx, o.resolved ?? NOTHING_RESOLVED) },
  dnsmasq: { file: 'dnsmasq-idp-egress.conf', render: (ctx: RulesContext) => renderDnsmasq(ctx) },
  ipset: { file: 'idp-egress.ipset', render: (ctx: RulesContext, o: FormatOptions) => renderIpset(ctx, o.resolved ?? NOTHING_RESOLVED) },
  iptables: { file: 'idp-egress.rules.v4', render: (ctx: RulesContext) => renderIptables(ctx, 4) },
  ip6tables: { file: 'idp-egress.rules.v6', render: (ctx: RulesContext) => renderIptables(ctx, 6) },
  suricata: { file: 'idp-egress.rules', render: (ctx: RulesContext) => renderSuricata(ctx) },
  jvm: { file: 'jvm-flags.txt', render: (ctx: RulesContext, o: FormatOptions) => renderJvm(ctx, o.proxy) },
  'azure-firewall': { file: 'azure-firewall.json', render: (ctx: RulesContext) => renderAzureArm(ctx) },
  'azure-firewall-terraform': { file: 'azure-firewall.tf.json', render: (ctx: RulesContext) => renderAzureTerraform(ctx) },
  'aws-network-firewall': { file: 'aws-network-firewall.json', render: (ctx: RulesContext) => renderAwsDomainList(ctx) },
  'aws-network-firewall-suricata': { file: 'aws-network-firewall-suricata.json', render: (ctx: RulesContext) => renderAwsSuricata(ctx) },
  'paloalto-edl': { file: 'paloalto-edl-urls.txt', render: (ctx: RulesContext) => renderPaloAltoUrls(ctx), notes: PALOALTO_CANNOT },
  'paloalto-edl-domains': {
    file: 'paloalto-edl-domains.txt',
    render: (ctx: RulesContext) => renderPaloAltoDomains(ctx),
    notes: [...PALOALTO_CANNOT, 'allowing traffic: a domain list feeds DNS Security and Anti-Spyware; allow traffic with the URL list (paloalto-edl)'],
  },
  fortigate: { file: 'fortigate.conf', render: (ctx: RulesContext) => renderFortigate(ctx) },
  cilium: { file: 'cilium-network-policy.yaml', render: (ctx: RulesContext, o: FormatOptions) => renderCilium(ctx, kubernetesTarget(o)) },
  'cilium-l7': { file: 'cilium-network-policy-l7.yaml', render: (ctx: RulesContext, o: FormatOptions) => renderCiliumL7(ctx, kubernetesTarget(o)) },
  istio: { file: 'istio.yaml', render: (ctx: RulesContext, o: FormatOptions) => renderIstio(ctx, kubernetesTarget(o)) },
  'k8s-networkpolicy': { file: 'k8s-networkpolicy.yaml', render: (ctx: RulesContext, o: FormatOptions) => renderNetworkPolicy(ctx, kubernetesTarget(o)) },
} as const satisfies Record<string, RulesFormatSpec>;

interface RulesFormatSpec {
  readonly file: string;
  readonly render: (ctx: RulesContext, options: FormatOptions) => string;
  /** Only for formats without comments (CSV, EDLs): what the header would have said it cannot express. */
  readonly notes?: readonly string[];
}

/** What a format without comment syntax cannot express, or undefined when its header says so. */
export function formatNotes(format: RulesFormat): readonly string[] | undefined {
  return (RULES_FORMATS[format] as RulesFormatSpec).notes;
}

export type RulesFormat = keyof typeof RULES_FORMATS;

/** Formats made of addresses: rendering them resolves the hosts first. */
const ADDRESS_FORMATS: ReadonlySet<RulesFormat> = new Set(['nftables', 'ipset']);

/** Whether rendering any of `formats` needs the hosts' addresses. */
export function needsAddresses(formats: readonly RulesFormat[]): boolean {
  return formats.some((f) => ADDRESS_FORMATS.has(f));
}

/** The hosts' addresses, resolved once, if any of `formats` is made of addresses. */
export async function addressesFor(
  formats: readonly RulesFormat[],
  ctx: RulesContext,
  config: SiteConfig,
  resolver?: Resolver,
): Promise<ResolvedAddresses | undefined> {
  return needsAddresses(formats) ? resolveForRules(ctx.hosts, config, resolver) : undefined;
}
export const RULES_FORMAT_NAMES = Object.keys(RULES_FORMATS) as RulesFormat[];
