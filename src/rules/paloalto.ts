import type { RulesContext } from './context.js';

/**
 * Palo Alto Networks External Dynamic Lists (PAN-OS "Formatting Guidelines for an External
 * Dynamic List"). One entry type per list, one entry per line, no comment syntax for URL and
 * domain lists: a "#" line would be read as an entry, so these lists carry no header and the
 * notes below go to the operator instead (stderr, or the README of `--format all`).
 *
 * "^" stands for exactly one token and "." separates tokens, so "^.okta.com" is exactly one
 * label below okta.com: the gateway's meaning of "*.okta.com", with no widening.
 */
export const PALOALTO_CANNOT = [
  'paths, methods and tenants: entries are host names (a path entry would only match with SSL decryption, and "*" in a path spans "/")',
  'ports: entries carry no port; allow Keycloak\'s port (if not 443) in the Security rule\'s service',
];

function entry(host: string, wildcard: boolean): string {
  return wildcard ? `^${host.slice(1)}` : host;
}

/** URL list: a URL category for Security rules. The trailing "/" is what PAN-OS would append anyway. */
export function renderPaloAltoUrls(ctx: RulesContext): string {
  return lines(ctx.hosts.map((h) => `${entry(h.host, h.wildcard)}/`));
}

/** Domain list: for DNS Security and Anti-Spyware sinkholing, not for allowing traffic. */
export function renderPaloAltoDomains(ctx: RulesContext): string {
  return lines(ctx.hosts.map((h) => entry(h.host, h.wildcard)));
}

function lines(entries: readonly string[]): string {
  return [...new Set(entries)].map((e) => `${e}\n`).join('');
}
