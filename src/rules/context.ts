import { hash } from 'node:crypto';
import { basename } from 'node:path';
import type { RulesPosture } from '../config/schema.js';
import type { Cidr } from '../core/address.js';
import type { LoadedPolicy } from '../policy/load.js';
import { PACKAGE_VERSION } from '../core/package-root.js';
import { allowedHosts, type AllowedHost } from './allowlist.js';


/** What every rules format is rendered from. */
export interface RulesContext {
  readonly hosts: readonly AllowedHost[];
  readonly generator: string;
  /** ISO time; SOURCE_DATE_EPOCH pins it so that outputs can be reproduced byte for byte. */
  readonly generatedAt: string;
  /** sha256 of the effective config and packs: equal digests, equal rules. */
  readonly configDigest: string;
  readonly source: string;
  /** What the packet-level formats constrain: rules.posture, or --posture. */
  readonly posture: RulesPosture;
  /** Who may use the gateway (`clients`): the proxy formats admit the same sources. */
  readonly clients: readonly string[];
  /** strict: rules.resolvers and rules.reachable, as CIDRs by address family. */
  readonly resolvers: SiteNetworks;
  readonly reachable: SiteNetworks;
}

export interface SiteNetworks {
  readonly v4: readonly string[];
  readonly v6: readonly string[];
}

/** CIDRs from the config, written out in full (a bare address gets /32 or /128) and split by family. */
function networks(cidrs: readonly Cidr[]): SiteNetworks {
  const v4: string[] = [];
  const v6: string[] = [];
  for (const n of cidrs) (n.family === 4 ? v4 : v6).push(n.block);
  return { v4, v6 };
}

export function rulesContext(loaded: LoadedPolicy, provider?: string, env: NodeJS.ProcessEnv = process.env, posture?: RulesPosture): RulesContext {
  const epoch = env['SOURCE_DATE_EPOCH'];
  const generatedAt = new Date(epoch && /^\d+$/.test(epoch) ? Number(epoch) * 1000 : Date.now()).toISOString();
  const configDigest = hash('sha256', JSON.stringify({ config: loaded.config.config, packs: loaded.packs }), 'hex').slice(0, 16);
  return {
    hosts: allowedHosts(loaded.policy, provider),
    generator: `idp-egress ${PACKAGE_VERSION}`,
    generatedAt,
    configDigest,
    source: loaded.config.file ? basename(loaded.config.file) : 'the embedded default config',
    posture: posture ?? loaded.config.config.rules.posture,
    clients: loaded.config.config.clients.map((c) => c.text),
    resolvers: networks(loaded.config.config.rules.resolvers),
    reachable: networks(loaded.config.config.rules.reachable),
  };
}

/** The formats whose output depends on the posture, so their regenerate line names it. */
const POSTURE_FORMATS: ReadonlySet<string> = new Set(['nftables', 'iptables', 'ip6tables', 'cilium', 'cilium-l7', 'k8s-networkpolicy', 'suricata']);

/**
 * What each format that has no posture of its own leaves unblocked, in one line (docs/rules.md,
 * "Postures"): a receiving team must not read more into a file than it does.
 */
export const DOES_NOT_BLOCK: Readonly<Record<string, string>> = {
  hosts: 'blocks nothing by itself: an inventory of the allowlisted hosts; the tool that reads it decides what happens to everything else',
  csv: 'blocks nothing by itself: an inventory of the allowlisted hosts and endpoints',
  json: 'blocks nothing by itself: an inventory of the allowlisted hosts and endpoints',
  pac: 'does not block: it sends the allowlisted hosts to the gateway and every other host DIRECT, unfiltered; programs that ignore PAC (the JVM among them) are not affected',
  jvm: "does not block: it sends the JVM's HTTPS to the gateway; hosts in http.nonProxyHosts and every other process go their own way",
  dnsmasq: 'blocks nothing by itself: it fills the nftables/ipset sets as it resolves the names; the firewall rules that use the sets do the blocking',
  ipset: 'blocks nothing by itself: sets of addresses for the iptables/ip6tables rules, which do the blocking',
  fortigate: "blocks nothing by itself: address objects and a group, until a firewall policy of the site's uses them; everything else is that policy's",
  istio: 'outboundTrafficPolicy REGISTRY_ONLY: sidecars reach only registered hosts (these and the mesh services); traffic that bypasses the sidecar (hostNetwork pods, excluded ports or ranges) is not blocked',
  'azure-firewall-terraform': "allows the hosts for the source addresses; what else is blocked is the policy's other rule collections and the firewall's default deny",
  'paloalto-edl': "blocks nothing by itself: a URL category, until a Security rule of the site's uses it",
  'paloalto-edl-domains': 'blocks nothing by itself: a domain list for DNS Security and Anti-Spyware; it allows no traffic either',
};

/**
 * The comment header every text format starts with. `what`: one line saying exactly what the
 * file lets through and what it refuses (the posture of a packet-level format, who may use a
 * proxy format).
 */
export function header(ctx: RulesContext, prefix: string, format: string, cannotExpress: readonly string[], eol = '\n', what?: string): string {
  const lines = [
    `idp-egress rules, format ${format}`,
    `generated by ${ctx.generator} at ${ctx.generatedAt} from ${ctx.source} (config digest ${ctx.configDigest})`,
    `regenerate with: idp-egress rules --format ${format}${POSTURE_FORMATS.has(format) ? ` --posture ${ctx.posture}` : ''}; do not edit by hand`,
    ...(what === undefined ? (DOES_NOT_BLOCK[format] === undefined ? [] : [DOES_NOT_BLOCK[format]]) : [what]),
    ...(cannotExpress.length > 0 ? ['this format cannot express, so it enforces less than the gateway:', ...cannotExpress.map((c) => `  - ${c}`)] : []),
    ...siteLines(ctx),
  ];
  return lines.map((l) => `${prefix} ${l}`.trimEnd()).join(eol) + eol;
}

/** The site's own endpoints among the allowed paths, once each: what a reviewer must see added. */
export function siteEndpoints(ctx: RulesContext): { readonly endpoint: string; readonly methods: readonly string[]; readonly template: string; readonly site: string }[] {
  const seen = new Set<string>();
  const out: { endpoint: string; methods: readonly string[]; template: string; site: string }[] = [];
  for (const h of ctx.hosts) {
    for (const p of h.paths) {
      const key = `${p.endpoint} ${p.template}`;
      if (p.site === undefined || seen.has(key)) continue;
      seen.add(key);
      out.push({ endpoint: p.endpoint, methods: p.methods, template: p.template, site: p.site });
    }
  }
  return out;
}

/** For formats whose comments are a metadata object: the site endpoints, when there are any. */
export function siteMetadata(ctx: RulesContext): { siteEndpoints?: ReturnType<typeof siteEndpoints> } {
  const site = siteEndpoints(ctx);
  return site.length > 0 ? { siteEndpoints: site } : {};
}

function siteLines(ctx: RulesContext): string[] {
  const site = siteEndpoints(ctx);
  if (site.length === 0) return [];
  return [
    "the site's own endpoints, beyond the vendor's list (site endpoints in the config):",
    ...site.map((e) => `  - ${e.endpoint} ${e.methods.join(',')} ${e.template} (${e.site})`),
  ];
}
