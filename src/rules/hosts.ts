import { header, type RulesContext } from './context.js';

/** One host per line (host:port when not 443): the list every firewall product can import. */
export function renderHosts(ctx: RulesContext): string {
  const lines = [...new Set(ctx.hosts.map((h) => (h.port === 443 ? h.host : `${h.host}:${h.port}`)))];
  return (
    header(ctx, '#', 'hosts', [
      'paths, methods and tenants: only hosts are listed',
      '"*.parent" means exactly one label below parent (acme.okta.com), never the apex or deeper names; check what your product makes of it',
    ]) +
    lines.join('\n') +
    '\n'
  );
}
