import { DOES_NOT_BLOCK, type RulesContext } from './context.js';

/**
 * RFC 4180 has no comments: a header of "#" lines is read as data rows by every spreadsheet. The
 * file starts with its column names; what a header would say goes to the operator (notes).
 */
export const CSV_NOTES = ['paths and methods: see the endpoint ids, or use the json or squid formats'];

/** RFC 4180 field: quoted when it holds a comma, quote or line break. */
function field(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV inventory: one row per host, with the endpoints and reasons behind it. */
export function renderCsv(ctx: RulesContext): string {
  const rows = ctx.hosts.map((h) => [
    h.host,
    h.port,
    h.provider,
    h.tls,
    h.paths.map((p) => p.endpoint).filter((e, i, all) => all.indexOf(e) === i).join(' '),
    (['documented', 'variant', 'site'] as const).filter((source) => h.paths.some((p) => p.source === source)).join('+'),
    [...new Set(h.paths.map((p) => p.reason))].join('; '),
  ]);
  return (
    [['host', 'port', 'provider', 'tls', 'endpoints', 'source', 'reasons'], ...rows].map((r) => r.map(field).join(',')).join('\r\n') +
    '\r\n'
  );
}

/** JSON inventory: hosts with every endpoint, methods, template and path regex. */
export function renderJson(ctx: RulesContext): string {
  return `${JSON.stringify(
    {
      generator: ctx.generator,
      generatedAt: ctx.generatedAt,
      source: ctx.source,
      configDigest: ctx.configDigest,
      doesNotBlock: DOES_NOT_BLOCK['json'],
      wildcardMeaning: '"*.parent" is exactly one label below parent, never the apex',
      hosts: ctx.hosts.map((h) => ({
        host: h.host,
        port: h.port,
        provider: h.provider,
        tls: h.tls,
        endpoints: h.paths.map((p) => ({ id: p.endpoint, methods: p.methods, template: p.template, pathRegex: p.pathRegex, source: p.source, ...(p.site ? { site: p.site } : {}), reason: p.reason })),
      })),
    },
    null,
    2,
  )}\n`;
}
