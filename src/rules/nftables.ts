import type { RulesContext } from './context.js';
import { header } from './context.js';
import type { ResolvedAddresses } from './resolve.js';

export const NFT_TABLE = 'idp_egress';

/** nft comments: at most 128 characters and no double quotes (nft 1.0.6 rejects both). */
function comment(s: string): string {
  return `comment "${s.replace(/"/g, "'").slice(0, 128)}"`;
}

/** The site's own networks as an nft interval set; an empty set matches nothing. */
function networkSet(name: string, type: string, cidrs: readonly string[], what: string): string[] {
  return [
    `\tset ${name} {`,
    `\t\ttype ${type}`,
    '\t\tflags interval',
    '\t\tauto-merge',
    `\t\t${comment(what)}`,
    ...(cidrs.length > 0 ? [`\t\telements = { ${cidrs.join(', ')} }`] : []),
    '\t}',
  ];
}

/**
 * An nftables table for the Atlassian server (or a Linux firewall in front of it), in one of two
 * postures (docs/rules.md). idp-only: outbound TCP to the IdP ports is accepted only to the
 * addresses the hosts resolved to at generation time, or that dnsmasq adds to the dynamic sets
 * as it resolves the names; everything else passes. strict: the output policy is drop, and only
 * those IdP addresses, DNS to rules.resolvers and the networks in rules.reachable pass.
 * Loading it replaces the table atomically (table, delete table, table); conntrack keeps the
 * established connections, so a reload does not cut them.
 */
export function renderNftables(ctx: RulesContext, resolved: ResolvedAddresses): string {
  const ports = [...new Set(ctx.hosts.map((h) => h.port))].sort((a, b) => a - b);
  const portSet = ports.length === 1 ? String(ports[0]) : `{ ${ports.join(', ')} }`;
  const elements = (m: ReadonlyMap<string, readonly string[]>) => [...m].map(([address, hosts]) => `\t\t\t${address} ${comment(hosts.join(' '))},`);
  const staticSet = (name: string, type: string, m: ReadonlyMap<string, readonly string[]>) => [
    `\tset ${name} {`,
    `\t\ttype ${type}`,
    '\t\tflags interval',
    '\t\tauto-merge',
    `\t\t${comment('addresses resolved at generation time')}`,
    ...(m.size > 0 ? ['\t\telements = {', ...elements(m), '\t\t}'] : []),
    '\t}',
  ];
  const strict = ctx.posture === 'strict';
  const unresolved = [...resolved.failed].map(([h, why]) => `unresolved at generation time (${why}): ${h}; only the dynamic sets can allow it`);
  const wildcards = ctx.hosts.filter((h) => h.wildcard).map((h) => h.host);
  const posture = strict
    ? `posture strict: output policy drop; only the IdP addresses on TCP ${ports.join(', ')}, DNS to rules.resolvers (${[...ctx.resolvers.v4, ...ctx.resolvers.v6].join(', ') || 'none listed'}), rules.reachable (${[...ctx.reachable.v4, ...ctx.reachable.v6].join(', ') || 'none listed'}), loopback, IPv6 neighbour discovery and established connections pass; everything else is rejected (DHCP, NTP, package mirrors, OCSP included: list what the host needs in rules.reachable)`
    : `posture idp-only: only outbound TCP to port ${ports.join(', ')} is limited to the IdP addresses; everything else passes: other TCP ports, UDP (QUIC on 443 too), DNS to any resolver, ICMP`;
  return [
    '#!/usr/sbin/nft -f',
    header(ctx, '#', 'nftables', [
      'host names, paths, methods and tenants: only addresses and ports; addresses change (Microsoft and Google front ends are shared and anycast), so regenerate often or use the dnsmasq format to keep the dyn_v4/dyn_v6 sets current',
      ...(wildcards.length > 0 ? [`wildcards (${wildcards.join(', ')}) resolve to nothing statically: only the dynamic sets can allow them`] : []),
      ...unresolved,
    ], '\n', posture).trimEnd(),
    `table inet ${NFT_TABLE}`,
    `delete table inet ${NFT_TABLE}`,
    `table inet ${NFT_TABLE} {`,
    `\t${comment(`idp-egress allowlist ${ctx.generatedAt} ${ctx.configDigest} posture ${ctx.posture}`)}`,
    '',
    ...staticSet('allowed_v4', 'ipv4_addr', resolved.v4),
    '',
    ...staticSet('allowed_v6', 'ipv6_addr', resolved.v6),
    '',
    `\tset dyn_v4 { type ipv4_addr; flags timeout; timeout 1h; ${comment('filled by dnsmasq nftset=')}; }`,
    `\tset dyn_v6 { type ipv6_addr; flags timeout; timeout 1h; ${comment('filled by dnsmasq nftset=')}; }`,
    ...(strict
      ? [
          '',
          ...networkSet('resolvers_v4', 'ipv4_addr', ctx.resolvers.v4, 'rules.resolvers'),
          ...networkSet('resolvers_v6', 'ipv6_addr', ctx.resolvers.v6, 'rules.resolvers'),
          ...networkSet('reachable_v4', 'ipv4_addr', ctx.reachable.v4, 'rules.reachable'),
          ...networkSet('reachable_v6', 'ipv6_addr', ctx.reachable.v6, 'rules.reachable'),
        ]
      : []),
    '',
    '\tchain output {',
    `\t\ttype filter hook output priority filter; policy ${strict ? 'drop' : 'accept'};`,
    '\t\toifname "lo" accept',
    '\t\tct state established,related accept',
    ...(strict
      ? [
          // IPv6 does not work at all without neighbour discovery (RFC 4861).
          `\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept ${comment('IPv6 neighbour discovery')}`,
          `\t\tip daddr @resolvers_v4 meta l4proto { tcp, udp } th dport 53 accept ${comment('DNS to rules.resolvers')}`,
          `\t\tip6 daddr @resolvers_v6 meta l4proto { tcp, udp } th dport 53 accept ${comment('DNS to rules.resolvers')}`,
          `\t\tip daddr @reachable_v4 accept ${comment('rules.reachable')}`,
          `\t\tip6 daddr @reachable_v6 accept ${comment('rules.reachable')}`,
        ]
      : []),
    `\t\tip daddr @allowed_v4 tcp dport ${portSet} accept ${comment('idp-egress allowlist')}`,
    `\t\tip6 daddr @allowed_v6 tcp dport ${portSet} accept ${comment('idp-egress allowlist')}`,
    `\t\tip daddr @dyn_v4 tcp dport ${portSet} accept ${comment('idp-egress allowlist, resolved by dnsmasq')}`,
    `\t\tip6 daddr @dyn_v6 tcp dport ${portSet} accept ${comment('idp-egress allowlist, resolved by dnsmasq')}`,
    ...(strict
      ? [
          `\t\tmeta l4proto tcp counter reject with tcp reset ${comment('posture strict: not on the idp-egress allowlist')}`,
          `\t\tcounter reject with icmpx admin-prohibited ${comment('posture strict: not on the idp-egress allowlist')}`,
        ]
      : [`\t\ttcp dport ${portSet} counter reject with tcp reset ${comment('not on the idp-egress allowlist')}`]),
    '\t}',
    '}',
    '',
  ].join('\n');
}

/**
 * dnsmasq (>= 2.87) lines that add every address it resolves for the allowlisted names to the
 * nftables dynamic sets (nftset=) or to ipsets (ipset=). dnsmasq matches a name and all its
 * subdomains, which is wider than the policy: the header says so.
 */
export function renderDnsmasq(ctx: RulesContext): string {
  const names = [...new Set(ctx.hosts.map((h) => (h.wildcard ? h.host.slice(2) : h.host)))];
  const domains = `/${names.join('/')}/`;
  return (
    header(ctx, '#', 'dnsmasq', [
      'dnsmasq matches a name and all its subdomains: graph.microsoft.com also covers x.graph.microsoft.com, and *.okta.com becomes okta.com with every depth',
      'clients must use this dnsmasq as their resolver; DNS over HTTPS bypasses it',
    ]) +
    `nftset=${domains}4#inet#${NFT_TABLE}#dyn_v4,6#inet#${NFT_TABLE}#dyn_v6\n` +
    `# iptables flavour: ipset=${domains}idp_egress_v4,idp_egress_v6\n`
  );
}
