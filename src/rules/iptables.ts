import { header, type RulesContext } from './context.js';
import type { ResolvedAddresses } from './resolve.js';

export const IPSET_V4 = 'idp_egress_v4';
export const IPSET_V6 = 'idp_egress_v6';

/** ipset and iptables comments: at most 255 characters, no double quotes. */
function comment(s: string): string {
  return `"${s.replace(/"/g, "'").slice(0, 255)}"`;
}

const CANNOT = [
  'host names, paths, methods and tenants: only addresses and ports, resolved at generation time; regenerate often, or let dnsmasq ipset= lines fill the sets',
];

/**
 * `ipset restore -exist -f FILE`: the sets the iptables rules match, refilled on every load
 * (create is idempotent with -exist, then flush, then add).
 */
export function renderIpset(ctx: RulesContext, resolved: ResolvedAddresses): string {
  const lines = [
    `create ${IPSET_V4} hash:net family inet hashsize 1024 maxelem 65536 comment`,
    `create ${IPSET_V6} hash:net family inet6 hashsize 1024 maxelem 65536 comment`,
    `flush ${IPSET_V4}`,
    `flush ${IPSET_V6}`,
    ...[...resolved.v4].map(([address, hosts]) => `add ${IPSET_V4} ${address} comment ${comment(hosts.join(' '))}`),
    ...[...resolved.v6].map(([address, hosts]) => `add ${IPSET_V6} ${address} comment ${comment(hosts.join(' '))}`),
  ];
  const unresolved = [...resolved.failed].map(([h, why]) => `unresolved at generation time (${why}): ${h}`);
  return header(ctx, '#', 'ipset', [...CANNOT, ...unresolved]) + lines.join('\n') + '\n';
}

/**
 * `iptables-restore --noflush` (family 4) or `ip6tables-restore --noflush` (family 6) input: one
 * chain of its own, IDP_EGRESS, which OUTPUT jumps to (installed once, as the header says), so
 * the host's other rules stay as they are and a reload replaces only this chain; conntrack keeps
 * established connections across it. Postures as for nftables (docs/rules.md): idp-only limits
 * outbound TCP on the IdP ports to the ipset's addresses and returns everything else to the
 * host's rules; strict accepts only the IdP addresses, DNS to rules.resolvers, rules.reachable,
 * loopback and established connections, and rejects the rest.
 */
export function renderIptables(ctx: RulesContext, family: 4 | 6): string {
  const portList = [...new Set(ctx.hosts.map((h) => h.port))].sort((a, b) => a - b);
  const ports = portList.join(',');
  const set = family === 4 ? IPSET_V4 : IPSET_V6;
  const strict = ctx.posture === 'strict';
  const resolvers = family === 4 ? ctx.resolvers.v4 : ctx.resolvers.v6;
  const reachable = family === 4 ? ctx.reachable.v4 : ctx.reachable.v6;
  const allowIdp = `-A IDP_EGRESS -p tcp -m multiport --dports ${ports} -m set --match-set ${set} dst -m comment --comment ${comment('idp-egress allowlist')} -j ACCEPT`;
  const lines = strict
    ? [
        '-A IDP_EGRESS -o lo -j ACCEPT',
        '-A IDP_EGRESS -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
        // IPv6 does not work at all without neighbour discovery (RFC 4861).
        ...(family === 6 ? ['neighbour-solicitation', 'neighbour-advertisement', 'router-solicitation'].map((t) => `-A IDP_EGRESS -p ipv6-icmp --icmpv6-type ${t} -j ACCEPT`) : []),
        ...resolvers.flatMap((r) => ['udp', 'tcp'].map((proto) => `-A IDP_EGRESS -d ${r} -p ${proto} --dport 53 -m comment --comment ${comment('DNS to rules.resolvers')} -j ACCEPT`)),
        ...reachable.map((r) => `-A IDP_EGRESS -d ${r} -m comment --comment ${comment('rules.reachable')} -j ACCEPT`),
        allowIdp,
        `-A IDP_EGRESS -p tcp -m comment --comment ${comment('posture strict: not on the idp-egress allowlist')} -j REJECT --reject-with tcp-reset`,
        `-A IDP_EGRESS -m comment --comment ${comment('posture strict: not on the idp-egress allowlist')} -j REJECT --reject-with ${family === 4 ? 'icmp-admin-prohibited' : 'icmp6-adm-prohibited'}`,
      ]
    : [
        '-A IDP_EGRESS -o lo -j RETURN',
        '-A IDP_EGRESS -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN',
        allowIdp,
        `-A IDP_EGRESS -p tcp -m multiport --dports ${ports} -m comment --comment ${comment('not on the idp-egress allowlist')} -j REJECT --reject-with tcp-reset`,
      ];
  const format = family === 4 ? 'iptables' : 'ip6tables';
  const posture = strict
    ? `posture strict: only the IdP addresses on TCP ${ports}, DNS to rules.resolvers (${resolvers.join(', ') || 'none listed'}), rules.reachable (${reachable.join(', ') || 'none listed'}), loopback${family === 6 ? ', neighbour discovery' : ''} and established connections pass; everything else is rejected (DHCP, NTP, package mirrors, OCSP included: list what the host needs in rules.reachable)`
    : `posture idp-only: only outbound TCP to port ${ports} is limited to the IdP addresses; everything else returns to the host's own rules: other TCP ports, UDP (QUIC on 443 too), DNS to any resolver, ICMP`;
  return (
    header(ctx, '#', format, [
      ...CANNOT,
      `load the sets first (idp-egress rules --format ipset), then ${format}-restore --noflush < this file: it replaces only the IDP_EGRESS chain`,
      `once, send OUTPUT through it: ${format} -C OUTPUT -j IDP_EGRESS 2>/dev/null || ${format} -I OUTPUT 1 -j IDP_EGRESS`,
    ], '\n', posture) +
    ['*filter', ':IDP_EGRESS - [0:0]', ...lines, 'COMMIT'].join('\n') +
    '\n'
  );
}
