import type { AllowedHost } from './allowlist.js';
import { ereEscape } from './allowlist.js';
import { header, type RulesContext } from './context.js';

export interface SquidOptions {
  /** The CA (certificate and key in one PEM) Squid signs bumped connections with. */
  readonly caFile: string;
  /** The http_port line's address: `[address:]port`. */
  readonly listen: string;
  /**
   * A file for Debian's /etc/squid/conf.d/, included by the stock squid.conf: no http_port or
   * sslcrtd lines of its own (the stock file declares port 3128, so a second one fails with
   * "Address already in use"), and so no bumping: host-level rules on the stock port.
   */
  readonly dropIn?: boolean;
}

export const SQUID_DEFAULTS: SquidOptions = { caFile: '/etc/squid/idp-egress-ca.pem', listen: '3128' };

/**
 * A Squid 5+ (squid-openssl) configuration with the same policy: the ClientHello is peeked at
 * step 1; hosts of tunnel-mode providers are spliced on their SNI; hosts of intercept-mode
 * providers are bumped and each request must match an endpoint's URL regex and method.
 * Squid's ".okta.com" means the apex and every depth, wider than our one-label "*.okta.com",
 * so wildcards become regexes (ssl::server_name_regex, dstdom_regex) with our exact meaning.
 */
export function renderSquid(ctx: RulesContext, options: SquidOptions = SQUID_DEFAULTS): string {
  if (options.dropIn) return renderSquidDropIn(ctx);
  const ports = [...new Set(ctx.hosts.map((h) => h.port))].sort((a, b) => a - b);
  const spliced = ctx.hosts.filter((h) => h.tls === 'tunnel');
  const bumped = ctx.hosts.filter((h) => h.tls === 'intercept');
  const splice = hostAcls('egress_splice', spliced);
  const bump = hostAcls('egress_bump', bumped);
  const out: string[] = [
    header(ctx, '#', 'squid', [
      'the refusal of ambiguous paths (dot segments, %2F, %5C, double encoding): Squid matches the URL as received',
      "query bindings (Google customer/domain) and checkTokenTenant: not enforced",
      'path literals match case-insensitively (url_regex -i)',
      'spliced (tunnel-mode) hosts: any path, as in the gateway',
    ], '\n', `only the config's clients (${ctx.clients.join(', ')}) may use it, as only they may use the gateway; every other source is denied`).trimEnd(),
    '',
    `http_port ${options.listen} ssl-bump tls-cert=${options.caFile} generate-host-certificates=on dynamic_cert_mem_cache_size=4MB`,
    'sslcrtd_program /usr/lib/squid/security_file_certgen -s /var/lib/squid/ssl_db -M 4MB',
    'sslcrtd_children 5',
    '',
    `acl egress_clients src ${ctx.clients.join(' ')}`,
    `acl SSL_ports port ${ports.join(' ')}`,
    'acl step1 at_step SslBump1',
    ...splice.lines,
    ...bump.lines,
    ...urlAcls(bumped),
    '',
    // Not an open proxy for the allowlist: the gateway admits only `clients`, and so does this.
    'http_access deny !egress_clients',
    'http_access deny !SSL_ports CONNECT',
    ...[...splice.host, ...bump.host].map((acl) => `http_access allow CONNECT SSL_ports ${acl}`),
    ...methodAccess(bumped),
    'http_access deny all',
    '',
    'ssl_bump peek step1',
    ...splice.sni.map((acl) => `ssl_bump splice ${acl}`),
    ...bump.sni.map((acl) => `ssl_bump bump ${acl}`),
    'ssl_bump terminate all',
  ];
  return `${out.join('\n')}\n`;
}

/**
 * The drop-in: the allowlist at host level for the config's clients on the stock port. Debian's
 * stock squid.conf reads conf.d after its own two denials (ports outside Safe_ports, CONNECT to
 * a port other than 443) and before "allow localhost" and "deny all"; its acl names are not
 * reused, since a second acl line with the same name widens the stock one.
 */
function renderSquidDropIn(ctx: RulesContext): string {
  const on443 = ctx.hosts.filter((h) => h.port === 443);
  const dropIn = hostAcls('egress_dropin', on443);
  const otherPorts = [...new Set(ctx.hosts.filter((h) => h.port !== 443).map((h) => `${h.host}:${h.port}`))];
  const out = [
    header(
      ctx,
      '#',
      'squid --squid-dropin',
      [
        'paths, methods, tenants and query bindings: the stock http_port has no ssl-bump, so requests inside the tunnels are not seen (use the full format on a port of its own for that)',
        ...(otherPorts.length > 0 ? [`hosts on ports other than 443 (${otherPorts.join(', ')}): the stock "http_access deny CONNECT !SSL_ports" refuses them before this file`] : []),
      ],
      '\n',
      `for /etc/squid/conf.d/ with Debian's stock squid.conf: only the config's clients (${ctx.clients.join(', ')}) may CONNECT, and only to the allowlisted hosts on 443; everything else they ask is denied; other sources are left to the stock rules (allow localhost, deny all)`,
    ).trimEnd(),
    '',
    `acl egress_clients src ${ctx.clients.join(' ')}`,
    ...dropIn.lines.filter((l) => !l.includes('ssl::server_name')),
    'acl egress_port443 port 443',
    '',
    ...dropIn.host.map((acl) => `http_access allow egress_clients CONNECT egress_port443 ${acl}`),
    // Without this, a client that is also "localhost" would fall through to the stock allow.
    'http_access deny egress_clients',
  ];
  return `${out.join('\n')}\n`;
}

interface HostAcls {
  readonly lines: readonly string[];
  /** The ACL names declared for the TLS server name and for the CONNECT host: any one matches. */
  readonly sni: readonly string[];
  readonly host: readonly string[];
}

/**
 * SNI and CONNECT-host ACLs for a set of hosts: exact names, and regexes for one-label wildcards
 * under names of their own (`_re`), since Squid refuses an ACL name declared with two types
 * ("FATAL: Bungled"), which a policy holding both kinds of host would otherwise write.
 */
function hostAcls(name: string, hosts: readonly AllowedHost[]): HostAcls {
  const unique = uniqueHosts(hosts);
  const exact = unique.filter((h) => !h.startsWith('*.'));
  const wildcards = unique.filter((h) => h.startsWith('*.'));
  const lines: string[] = [];
  for (const h of exact) lines.push(`acl ${name}_sni ssl::server_name ${h}`, `acl ${name}_host dstdomain ${h}`);
  for (const h of wildcards) {
    const re = `^[^.]+\\.${ereEscape(h.slice(2))}$`;
    lines.push(`acl ${name}_sni_re ssl::server_name_regex -i ${re}`, `acl ${name}_host_re dstdom_regex -i ${re}`);
  }
  const named = (suffix: string) => [...(exact.length > 0 ? [`${name}_${suffix}`] : []), ...(wildcards.length > 0 ? [`${name}_${suffix}_re`] : [])];
  return { lines: lines.length > 0 ? ['', ...lines] : [], sni: named('sni'), host: named('host') };
}

function uniqueHosts(hosts: readonly AllowedHost[]): string[] {
  return [...new Set(hosts.map((h) => h.host))];
}

/** One url_regex ACL per method set (GET reads, POST token calls), each line one endpoint template. */
function urlAcls(bumped: readonly AllowedHost[]): string[] {
  const lines: string[] = [];
  for (const [methods, entries] of byMethods(bumped)) {
    lines.push('', `acl egress_methods_${methods.join('_')} method ${methods.join(' ')}`);
    for (const { host, path } of entries) {
      // Squid has no trailing comments: a "# ..." after the regex would be read as more regexes.
      lines.push(`# ${path.endpoint}: ${path.template}${path.site ? ` (site endpoint, ${path.site})` : ''}`, `acl egress_urls_${methods.join('_')} url_regex -i ${urlRegex(host, path)}`);
    }
  }
  return lines;
}

function methodAccess(bumped: readonly AllowedHost[]): string[] {
  return [...byMethods(bumped).keys()].map((methods) => `http_access allow egress_methods_${methods.join('_')} egress_urls_${methods.join('_')}`);
}

function byMethods(hosts: readonly AllowedHost[]): Map<readonly string[], { host: AllowedHost; path: AllowedHost['paths'][number] }[]> {
  const groups = new Map<string, { methods: readonly string[]; entries: { host: AllowedHost; path: AllowedHost['paths'][number] }[] }>();
  for (const host of hosts) {
    for (const path of host.paths) {
      const key = [...path.methods].sort().join(' ');
      const g = groups.get(key) ?? { methods: [...path.methods].sort(), entries: [] };
      g.entries.push({ host, path });
      groups.set(key, g);
    }
  }
  return new Map([...groups.values()].sort((a, b) => a.methods.join().localeCompare(b.methods.join())).map((g) => [g.methods, g.entries]));
}

/** The full URL a bumped request shows Squid: scheme, host, optional port, path, optional query. */
function urlRegex(h: AllowedHost, path: AllowedHost['paths'][number]): string {
  const hostRe = h.host.startsWith('*.') ? `[^./:]+\\.${ereEscape(h.host.slice(2))}` : ereEscape(h.host);
  const portRe = h.port === 443 ? '(:443)?' : `:${h.port}`;
  return `^https://${hostRe}${portRe}${path.pathRegex.slice(1, -1)}([?].*)?$`;
}
