import type { Endpoint } from '../policy/model.js';
import type { LoadedPolicy } from '../policy/load.js';
import { columns } from '../core/columns.js';
import { EXIT, type CliIo } from './io.js';

export const ENDPOINT_FORMATS = ['table', 'json', 'markdown'] as const;
export type EndpointFormat = (typeof ENDPOINT_FORMATS)[number];

/** `idp-egress endpoints`: the effective allowlist, one row per URL template. */
export function runEndpoints(loaded: LoadedPolicy, format: EndpointFormat, io: CliIo): number {
  const endpoints = loaded.policy.endpoints;
  if (format === 'json') io.out(`${JSON.stringify(endpoints.map(toJson), null, 2)}\n`);
  else if (format === 'markdown') io.out(markdown(endpoints));
  else io.out(table(endpoints));
  return EXIT.OK;
}

function toJson(e: Endpoint) {
  return {
    provider: e.provider,
    id: e.id,
    kind: e.kind,
    methods: e.methods,
    urls: e.urls,
    reason: e.reason,
    source: e.source,
    ...(e.variant ? { variant: e.variant } : {}),
    ...(e.site ? { site: e.site } : {}),
    mode: e.mode,
    tls: e.tls,
  };
}

function rows(endpoints: readonly Endpoint[]): string[][] {
  return endpoints.flatMap((e) => e.urls.map((url) => [e.provider, e.id, e.kind, e.methods.join(','), url, e.site ? `site ${e.site}` : e.source, e.reason]));
}

function table(endpoints: readonly Endpoint[]): string {
  return columns([['PROVIDER', 'ENDPOINT', 'KIND', 'METHODS', 'URL', 'SOURCE', 'REASON'], ...rows(endpoints)]);
}

function markdown(endpoints: readonly Endpoint[]): string {
  const escape = (s: string) => s.replace(/\|/g, '\\|');
  const header = '| Provider | Endpoint | Kind | Methods | URL | Source | Reason |\n|---|---|---|---|---|---|---|\n';
  return header + rows(endpoints).map((r) => `| ${r.map((c, i) => (i === 1 || i === 4 ? `\`${escape(c)}\`` : escape(c))).join(' | ')} |`).join('\n') + '\n';
}
