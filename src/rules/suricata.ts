import { ereEscape } from './allowlist.js';
import { header, type RulesContext } from './context.js';

/** sids are stable across runs (provider, host order) and kept in one block of our own. */
const SID_BASE = 4_210_000;

export const SURICATA_CANNOT = [
  'paths, methods and tenants: rules match the TLS server name only (path rules would need TLS inspection)',
  'the SNI check alone does not stop a client that sends an allowed SNI and another Host inside TLS',
];

/**
 * Suricata 6/7 rules (AWS Network Firewall stateful RulesString, or any Suricata IDS/IPS):
 * pass TLS whose SNI is an allowlisted host, drop other TLS and all plain HTTP. For STRICT_ORDER
 * the TCP handshake is passed first, or it is dropped before the SNI is seen.
 */
export function suricataRules(ctx: RulesContext): string[] {
  const ports = [...new Set(ctx.hosts.map((h) => h.port))].sort((a, b) => a - b);
  const portList = ports.length === 1 ? String(ports[0]) : `[${ports.join(',')}]`;
  let sid = SID_BASE;
  const rule = (text: string) => `${text} sid:${sid++}; rev:1;)`;
  const hosts = [...new Map(ctx.hosts.map((h) => [`${h.host}:${h.port}`, h])).values()];
  return [
    rule(`pass tcp $HOME_NET any <> $EXTERNAL_NET ${portList} (msg:"idp-egress: TCP handshakes to the allowlisted ports"; flow:not_established;`),
    ...hosts.map((h) =>
      h.wildcard
        ? rule(
            `pass tls $HOME_NET any -> $EXTERNAL_NET ${h.port} (msg:"idp-egress allow ${h.host} (one label)"; flow:to_server,established; tls.sni; content:"${h.host.slice(1)}"; nocase; endswith; pcre:"/^[^.]+${ereEscape(h.host.slice(1)).replace(/\//g, '\\/')}$/i";`,
          )
        : rule(`pass tls $HOME_NET any -> $EXTERNAL_NET ${h.port} (msg:"idp-egress allow ${h.host}"; flow:to_server,established; tls.sni; content:"${h.host}"; nocase; startswith; endswith;`),
    ),
    rule('drop tls $HOME_NET any -> $EXTERNAL_NET any (msg:"idp-egress: TLS to a host not on the allowlist"; flow:to_server,established;'),
    rule('drop http $HOME_NET any -> $EXTERNAL_NET any (msg:"idp-egress: plain HTTP (every provider endpoint is HTTPS)"; flow:to_server,established;'),
    // strict: whatever else rides on the IdP ports (SSH or a VPN on 443, an unknown protocol).
    ...(ctx.posture === 'strict'
      ? [rule(`drop tcp $HOME_NET any -> $EXTERNAL_NET ${portList} (msg:"idp-egress: not TLS on an allowlisted port"; flow:to_server,established; app-layer-protocol:!tls;`)]
      : []),
  ];
}

/** What the rules pass and drop, in the posture chosen, and what HOME_NET must be for that. */
export function suricataPosture(ctx: RulesContext): string {
  const ports = [...new Set(ctx.hosts.map((h) => h.port))].sort((a, b) => a - b).join(', ');
  const homeNet = 'HOME_NET must be the Atlassian servers only: with a wider HOME_NET the plain-HTTP drop also stops OCSP/CRL checks and package mirrors of every other host in it';
  return ctx.posture === 'strict'
    ? `posture strict: TLS from HOME_NET passes only with an allowlisted server name, plain HTTP is dropped, and so is every established flow on port ${ports} that is not TLS; ${homeNet}`
    : `posture idp-only: TLS from HOME_NET passes only with an allowlisted server name and plain HTTP is dropped; established flows that are neither TLS nor HTTP (SSH or a VPN on 443) pass; ${homeNet}`;
}

export function renderSuricata(ctx: RulesContext): string {
  return `${header(ctx, '#', 'suricata', SURICATA_CANNOT, '\n', suricataPosture(ctx))}${suricataRules(ctx).join('\n')}\n`;
}
