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
    ...[...resolved.v4].map(([address, host]) => `add ${IPSET_V4} ${address} comment ${comment(host)}`),
    ...[...resolved.v6].map(([address, host]) => `add ${IPSET_V6} ${address} comment ${comment(host)}`),
  ];
  const unresolved = [...resolved.failed].map(([h, why]) => `unresolved at generation time (${why}): ${h}`);
  return header(ctx, '#', 'ipset', [...CANNOT, ...unresolved]) + lines.join('\n') + '\n';
}

/**
 * `iptables-restore` (family 4) or `ip6tables-restore` (family 6) input: outbound TCP to the
 * allowlisted ports goes through the IDP_EGRESS chain, which accepts the ipset's addresses and
 * resets the rest. It replaces the filter table: merge it by hand where the host has rules.
 */
export function renderIptables(ctx: RulesContext, family: 4 | 6): string {
  const ports = [...new Set(ctx.hosts.map((h) => h.port))].sort((a, b) => a - b).join(',');
  const set = family === 4 ? IPSET_V4 : IPSET_V6;
  const lines = [
    '*filter',
    ':OUTPUT ACCEPT [0:0]',
    ':IDP_EGRESS - [0:0]',
    '-A OUTPUT -o lo -j ACCEPT',
    '-A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
    `-A OUTPUT -p tcp -m multiport --dports ${ports} -j IDP_EGRESS`,
    `-A IDP_EGRESS -m set --match-set ${set} dst -m comment --comment ${comment('idp-egress allowlist')} -j ACCEPT`,
    '-A IDP_EGRESS -p tcp -j REJECT --reject-with tcp-reset',
    'COMMIT',
  ];
  const format = family === 4 ? 'iptables' : 'ip6tables';
  return (
    header(ctx, '#', format, [...CANNOT, `load the sets first (idp-egress rules --format ipset); ${format}-restore replaces the filter table`]) + lines.join('\n') + '\n'
  );
}
