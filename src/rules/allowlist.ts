import type { TlsMode } from '../config/schema.js';
import { routesOf } from '../policy/compile.js';
import type { EndpointSource, PathNode, Policy, Provider } from '../policy/model.js';

/** One endpoint template as a firewall sees it: the path as a POSIX ERE, with what it came from. */
export interface AllowedPath {
  readonly endpoint: string;
  readonly methods: readonly string[];
  readonly template: string;
  /** POSIX ERE for the path (no query), anchored; enum and site-bound values as alternations. */
  readonly pathRegex: string;
  readonly source: EndpointSource;
  /** Site endpoints: where the config defines it, file:line. */
  readonly site: string | undefined;
  readonly reason: string;
}

/** A host the policy allows, with everything an emitter needs to describe it. */
export interface AllowedHost {
  /** An exact host, or `*.parent` meaning exactly one label below parent (never the apex). */
  readonly host: string;
  readonly wildcard: boolean;
  readonly port: number;
  readonly provider: Provider;
  readonly tls: TlsMode;
  readonly paths: readonly AllowedPath[];
}

/**
 * The effective allowlist in a stable order (provider, then host), the one input of every rules
 * format, so that two runs over the same policy produce the same rules.
 */
export function allowedHosts(policy: Policy, provider?: string): AllowedHost[] {
  const routes = routesOf(policy);
  return routes
    .filter((r) => provider === undefined || r.provider === provider)
    .map((r) => ({
      host: r.pattern,
      wildcard: r.pattern.startsWith('*.'),
      port: r.port,
      provider: r.provider,
      tls: r.tls,
      paths: collectPaths(r.root),
    }))
    .sort((a, b) => a.provider.localeCompare(b.provider) || a.host.localeCompare(b.host) || a.port - b.port);
}

const ERE_SPECIAL = /[.[\]()*+?{}|^$\\]/g;
/** Escapes a literal for a POSIX ERE (regcomp: no \d, no lazy quantifiers, no look-arounds). */
export function ereEscape(s: string): string {
  return s.replace(ERE_SPECIAL, (c) => `\\${c}`);
}

/** Any one path segment, as our policy reads it: at least one character, no "/", "?" or "#". */
const ANY_SEGMENT = '[^/?#]+';

function collectPaths(root: PathNode): AllowedPath[] {
  const out: AllowedPath[] = [];
  const walk = (node: PathNode, parts: string[]) => {
    for (const t of node.terminals) {
      out.push({
        endpoint: t.endpoint.id,
        methods: t.endpoint.methods,
        template: t.template,
        pathRegex: `^/${parts.join('/')}$`,
        source: t.endpoint.source,
        site: t.endpoint.site,
        reason: t.endpoint.reason,
      });
    }
    for (const [k, literal] of node.literalKeys.entries()) walk(node.literalNodes[k]!, [...parts, segmentLiteral(literal)]);
    for (const p of node.params) {
      const values = p.variable.bound ? [...p.variable.bound, ...p.variable.accepts] : p.variable.values;
      walk(p.node, [...parts, values ? `(${values.map(ereEscape).join('|')})` : ANY_SEGMENT]);
    }
  };
  walk(root, []);
  // Stable order whatever the trie's insertion order: by endpoint id, then template.
  return out.sort((a, b) => a.endpoint.localeCompare(b.endpoint) || a.template.localeCompare(b.template));
}

/** A literal segment; "$" may arrive percent-encoded (%24value), which our policy also accepts. */
function segmentLiteral(literal: string): string {
  return literal
    .split('$')
    .map(ereEscape)
    .join('(\\$|%24)');
}
