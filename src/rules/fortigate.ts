import { hash } from 'node:crypto';
import { header, type RulesContext } from './context.js';

/** FortiOS caps object names at 79 characters ("config firewall address"). */
const NAME_LIMIT = 79;
const GROUP = 'idp-egress-allowlist';

/** A stable object name; long hosts keep their tail and a digest so two never collide. */
function objectName(host: string): string {
  const name = `idp-egress-${host.replace(/^\*\./, 'wildcard.')}`;
  if (name.length <= NAME_LIMIT) return name;
  const digest = hash('sha256', host, 'hex').slice(0, 8);
  return `idp-egress-${digest}-${host.slice(-(NAME_LIMIT - 20))}`;
}

const quote = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;

/**
 * FortiGate FQDN address objects (FortiOS >= 6.2.2 for wildcard FQDNs), an address group, and a
 * custom service per non-443 port, for a firewall policy the site writes with its own interfaces.
 * Exact FQDN objects are resolved by the FortiGate; wildcard ones only learn addresses from DNS
 * answers that pass through it, so clients must use resolvers behind the FortiGate.
 */
export function renderFortigate(ctx: RulesContext): string {
  const hosts = [...new Map(ctx.hosts.map((h) => [h.host, h])).values()];
  const ports = [...new Set(ctx.hosts.map((h) => h.port))].sort((a, b) => a - b);
  const addresses = hosts.map(
    (h) => `    edit ${quote(objectName(h.host))}
        set type fqdn
        set fqdn ${quote(h.host)}
        set comment ${quote(`idp-egress: ${h.provider}`)}
    next`,
  );
  const services = ports
    .filter((p) => p !== 443)
    .map(
      (p) => `    edit ${quote(`idp-egress-tcp-${p}`)}
        set tcp-portrange ${p}
        set comment "idp-egress: a provider on a port other than 443"
    next`,
    );
  return (
    header(ctx, '#', 'fortigate', [
      'paths, methods and tenants: FQDN address objects match addresses, not requests',
      '"*.parent" matches every depth below parent in FortiOS, wider than the gateway\'s one label',
      'the firewall policy itself (interfaces, source addresses, action): use the group below as dstaddr with service HTTPS' +
        (services.length > 0 ? ' and the idp-egress-tcp-* services' : ''),
    ]) +
    `config firewall address
${addresses.join('\n')}
end
config firewall addrgrp
    edit ${quote(GROUP)}
        set member ${hosts.map((h) => quote(objectName(h.host))).join(' ')}
        set comment "idp-egress: identity-provider endpoints"
    next
end
` +
    (services.length > 0 ? `config firewall service custom\n${services.join('\n')}\nend\n` : '')
  );
}
