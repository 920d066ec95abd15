import { header, type RulesContext } from './context.js';

export interface PacOptions {
  /** The gateway as clients reach it, host:port. */
  readonly proxy: string;
}

/**
 * A proxy auto-config file that sends the allowlisted hosts to the gateway and everything else
 * DIRECT. ES3 only (PAC engines vary: WinHTTP, Chrome, Firefox). Fail closed: no "; DIRECT"
 * fallback, so a gateway that is down does not bypass the allowlist. Java servers (Jira,
 * Confluence) ignore PAC; they need the JVM flags (idp-egress jvm).
 */
export function renderPac(ctx: RulesContext, options: PacOptions): string {
  const exact = [...new Set(ctx.hosts.filter((h) => !h.wildcard).map((h) => h.host))];
  const oneLabel = [...new Set(ctx.hosts.filter((h) => h.wildcard).map((h) => h.host.slice(1)))];
  const list = (xs: readonly string[]) => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
  return `${header(ctx, '//', 'pac', [
    'paths, methods and tenants: browsers give FindProxyForURL only the host of https:// URLs',
    'ports: PAC sees the host without its port',
  ])}function FindProxyForURL(url, host) {
  var h = host.toLowerCase();
  if (h.charAt(h.length - 1) === ".") { h = h.substring(0, h.length - 1); }
  var exact = ${list(exact)};
  // "*.parent": exactly one label before the suffix, never the apex or deeper names.
  var oneLabel = ${list(oneLabel)};
  var i;
  for (i = 0; i < exact.length; i++) {
    if (h === exact[i]) { return "PROXY ${options.proxy}"; }
  }
  for (i = 0; i < oneLabel.length; i++) {
    var s = oneLabel[i];
    if (h.length > s.length && h.substring(h.length - s.length) === s && h.substring(0, h.length - s.length).indexOf(".") === -1) {
      return "PROXY ${options.proxy}";
    }
  }
  return "DIRECT";
}
`;
}
