import { routesOf } from '../policy/compile.js';
import type { CompiledVariable, HostRoute, PathNode, Policy, Provider, Terminal } from '../policy/model.js';
import { judge } from '../policy/judge.js';

/** The one harmless request a probe sends to a host: no credentials, nothing that changes state. */
export interface ProbeRequest {
  readonly method: 'GET' | 'POST';
  /** Path and query, as the policy allows them. */
  readonly target: string;
  readonly endpoint: string;
  /** A token request without credentials: the provider's 400/401 proves the path is open. */
  readonly body?: string;
}

export interface ProbeTarget {
  readonly provider: Provider;
  readonly host: string;
  readonly port: number;
  readonly request: ProbeRequest | undefined;
  /** Why this host cannot be probed (a wildcard names no host to dial). */
  readonly skipped: string | undefined;
}

/** Values that fit a variable the site left unbound; a probe needs some concrete segment. */
const PLACEHOLDER: Record<string, string> = {
  guid: '00000000-0000-0000-0000-000000000000',
  'entra-tenant': '00000000-0000-0000-0000-000000000000',
  domain: 'example.com',
  segment: 'idp-egress-probe',
};

function sampleValue(v: CompiledVariable): string | undefined {
  const candidates = [...(v.bound ? [...v.bound].sort() : []), ...(v.values ?? []), PLACEHOLDER[v.type] ?? 'idp-egress-probe'];
  return candidates.find((c) => v.test(c));
}

/** Token endpoints first (a POST without credentials is refused harmlessly), then the shortest read. */
function preference(t: Terminal, depth: number): number {
  const kind = t.endpoint.kind === 'token' ? 0 : t.endpoint.kind === 'api' ? 1 : 2;
  return kind * 1000 + depth;
}

function* candidates(node: PathNode, parts: string[]): Generator<{ terminal: Terminal; path: string; depth: number }> {
  for (const terminal of node.terminals) yield { terminal, path: `/${parts.join('/')}`, depth: parts.length };
  for (const [k, literal] of node.literalKeys.entries()) yield* candidates(node.literalNodes[k]!, [...parts, literal]);
  for (const p of node.params) {
    const value = sampleValue(p.variable);
    if (value !== undefined) yield* candidates(p.node, [...parts, encodeURIComponent(value)]);
  }
}

function queryFor(t: Terminal): string {
  if (!t.query) return '';
  const [name, variable] = [...t.query.oneOf][0]!;
  const value = sampleValue(variable);
  return value === undefined ? '' : `?${name}=${encodeURIComponent(value)}`;
}

/** The request to probe a route with: the most harmless one the policy allows, checked by the judge the gateway uses. */
function probeRequest(policy: Policy, route: HostRoute): ProbeRequest | undefined {
  const found = [...candidates(route.root, [])].sort((a, b) => preference(a.terminal, a.depth) - preference(b.terminal, b.depth));
  for (const { terminal, path } of found) {
    const method = terminal.methods.includes('POST') && terminal.endpoint.kind === 'token' ? 'POST' : terminal.methods.includes('GET') ? 'GET' : undefined;
    if (!method) continue;
    const target = path + queryFor(terminal);
    if (judge(policy, { form: 'tunnel', method, target, host: route.pattern, port: route.port }).effect !== 'allow') continue;
    return { method, target, endpoint: terminal.endpoint.id, ...(method === 'POST' ? { body: 'grant_type=client_credentials' } : {}) };
  }
  return undefined;
}

/** The config key that turns a provider's wildcard into the site's own host. */
const ORG_KEY: Readonly<Record<string, string>> = { okta: 'domain', onelogin: 'host' };

/** Every host of the enabled providers (or one of them), each with the request that probes it. */
export function probeTargets(policy: Policy, provider?: Provider): ProbeTarget[] {
  const routes = routesOf(policy)
    .filter((r) => provider === undefined || r.provider === provider)
    .sort((a, b) => a.provider.localeCompare(b.provider) || a.pattern.localeCompare(b.pattern) || a.port - b.port);
  return routes.map((r) =>
    r.pattern.startsWith('*.')
      ? {
          provider: r.provider,
          host: r.pattern,
          port: r.port,
          request: undefined,
          skipped: `a wildcard names no host to dial; bind the org (providers.${r.provider}.${ORG_KEY[r.provider] ?? 'domain'}) to probe it`,
        }
      : { provider: r.provider, host: r.pattern, port: r.port, request: probeRequest(policy, r), skipped: undefined },
  );
}
