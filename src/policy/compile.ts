import { providersSchema, type Mode, type ProviderName, type SiteConfig, type TlsMode } from '../config/schema.js';
import { deepFreeze } from '../core/freeze.js';
import { ruleHost } from '../core/host.js';
import type { Pack, PackVariable } from './pack.js';
import { withSiteEndpoints, type ConfigOrigin, type PolicySource } from './site-endpoints.js';
import { flattenTrie, methodBit } from './path-table.js';
import type { CompiledVariable, Endpoint, HostRoute, PathNode, Policy, Provider, ProviderStatus, QueryRule, Terminal } from './model.js';
import { parseTemplate, type Template } from '../core/template.js';
import { describeType, HOST_VARIABLE_TYPES, isCaseInsensitive, isGuid, typeAccepts, type BaseUrl } from '../core/variables.js';

/** The trie while it is built. */
interface NodeBuilder {
  readonly literals: Map<string, NodeBuilder>;
  readonly params: { readonly variable: CompiledVariable; readonly node: NodeBuilder }[];
  readonly terminals: Terminal[];
}

interface RouteBuilder extends Omit<HostRoute, 'root' | 'table' | 'nextPort'> {
  readonly root: NodeBuilder;
}

type ProviderConfig = {
  enabled: boolean;
  mode?: Mode | undefined;
  tls: TlsMode;
  cloud?: string;
  [key: string]: unknown;
};

/**
 * Compiles the packs, with the site's own endpoints (site-endpoints.ts), as the site config binds
 * them into a frozen, host-indexed policy. `origin` is the config file and its text, so that site
 * endpoints and their problems can say where they were written.
 */
export function compilePolicy(packs: readonly Pack[], config: SiteConfig, origin?: ConfigOrigin): Policy {
  const exact = new Map<string, RouteBuilder[]>();
  const wildcard = new Map<string, RouteBuilder[]>();
  const offHosts = new Map<string, string>();
  const endpoints: Endpoint[] = [];
  const providers: ProviderStatus[] = [];
  const { sources, warnings } = withSiteEndpoints(packs, config, origin);
  const tokenTenants = new Map<Provider, ReadonlySet<string>>();
  const loggableQuery = new Map<Provider, ReadonlySet<string>>();

  for (const pack of sources) {
    const name = pack.provider;
    loggableQuery.set(name, new Set(pack.logQuery.map((q) => q.toLowerCase())));
    const { cfg, off: configOff } = pack.siteDefined ? siteProviderConfig(config, name) : providerConfig(config, name as ProviderName);
    const mode = cfg.mode ?? config.mode;
    const tls = cfg.tls;
    const variables = compileVariables(pack, cfg);
    const hostOff = unboundRequiredHost(pack, variables);
    const off = configOff ?? hostOff;
    const cloudHosts = pack.clouds ? (pack.clouds.hosts[String(cfg[pack.clouds.site] ?? pack.clouds.default)] ?? {}) : {};
    const hosts = new Set<string>();

    for (const e of pack.endpoints) {
      const routes: { host: string; port: number; template: Template; prefix: readonly string[] }[] = [];
      for (const url of e.urls) {
        const template = parseTemplate(url) as Template;
        for (const authority of authorities(template, variables, cloudHosts)) routes.push({ ...authority, template });
      }
      const urls = routes.map((r) => render(r.host, r.port, r.prefix, r.template, variables, true));
      const endpoint: Endpoint = Object.freeze({
        provider: name,
        id: e.id,
        kind: e.kind,
        methods: Object.freeze([...e.methods]),
        reason: e.reason,
        source: e.site !== undefined ? 'site' : e.documented === true ? 'documented' : 'variant',
        variant: e.variant,
        site: e.site,
        urls: Object.freeze(urls),
        mode,
        tls,
      });
      for (const r of routes) hosts.add(r.port === 443 ? r.host : `${r.host}:${r.port}`);
      if (off) {
        for (const r of routes) offHosts.set(r.host, `${pack.title} is off: ${off}`);
        continue;
      }
      endpoints.push(endpoint);
      const query = compileQueryRule(e.query?.oneOf, variables);
      for (const r of routes) {
        const route = routeFor(r.host, r.port, name, tls, mode, exact, wildcard);
        const terminal: Terminal = {
          endpoint,
          template: render(r.host, r.port, r.prefix, r.template, variables, false),
          query,
          methods: endpoint.methods,
          methodMask: endpoint.methods.reduce((mask, m) => mask | methodBit(m), 0),
          endpointId: endpoint.id,
          kind: endpoint.kind,
          allowReason: `${endpoint.id}: ${endpoint.reason}`,
        };
        insert(route.root, [...r.prefix.map((value) => ({ kind: 'literal' as const, value })), ...r.template.segments], variables, terminal);
      }
    }
    providers.push(
      Object.freeze({ provider: name, title: pack.title, enabled: !off, off, offForBinding: !configOff && hostOff !== undefined, mode, tls, hosts: Object.freeze([...hosts]) }),
    );
    if (!off) warnings.push(...bindingWarnings(pack, variables, name, tls));
    if (!off && cfg['checkTokenTenant'] === true) {
      tokenTenants.set(name, new Set(((cfg['tenant'] as string[] | undefined) ?? []).filter(isGuid).map((t) => t.toLowerCase())));
    }
  }

  const hostsBySuffix = new Map<string, string[]>();
  for (const pattern of [...exact.keys(), ...[...wildcard.keys()].map((k) => `*.${k}`)]) {
    const key = lastTwoLabels(pattern);
    hostsBySuffix.set(key, [...(hostsBySuffix.get(key) ?? []), pattern]);
  }
  // Literal keys shared by every host's table, so the ones all hosts use stay in cache.
  const intern = new Map<string, string>();
  return deepFreeze({
    mode: config.mode,
    providers,
    endpoints,
    exact: sealRoutes(exact, intern),
    wildcard: sealRoutes(wildcard, intern),
    offHosts,
    tokenTenants,
    loggableQuery,
    hostsBySuffix,
    warnings,
  });
}

export function lastTwoLabels(host: string): string {
  const last = host.lastIndexOf('.');
  return last === -1 ? host : host.slice(host.lastIndexOf('.', last - 1) + 1);
}

function siteProviderConfig(config: SiteConfig, name: string): { cfg: ProviderConfig; off: string | undefined } {
  const cfg = config.siteProviders[name]!;
  return { cfg: cfg as ProviderConfig, off: cfg.enabled ? undefined : 'enabled: false in the config' };
}

function providerConfig(config: SiteConfig, name: ProviderName): { cfg: ProviderConfig; off: string | undefined } {
  const listed = config.providers?.[name];
  if (config.providers && !listed) {
    return { cfg: { enabled: false, tls: 'intercept' }, off: `not listed under providers in the config` };
  }
  if (listed) {
    return { cfg: listed as ProviderConfig, off: listed.enabled ? undefined : 'enabled: false in the config' };
  }
  // No providers key: the embedded default, each provider with its keys' defaults. Whole-object
  // checks are skipped, so a provider that needs a binding is reported off by unboundRequiredHost.
  const cfg: ProviderConfig = { enabled: true, tls: 'intercept' };
  for (const [key, field] of Object.entries(providersSchema.shape[name].unwrap().shape)) {
    const parsed = (field as { safeParse(v: unknown): { success: boolean; data?: unknown } }).safeParse(undefined);
    if (parsed.success && parsed.data !== undefined) cfg[key] = parsed.data;
  }
  return { cfg, off: undefined };
}

function compileVariables(pack: PolicySource, cfg: ProviderConfig): ReadonlyMap<string, CompiledVariable> {
  const out = new Map<string, CompiledVariable>();
  for (const [name, v] of Object.entries(pack.variables)) {
    // The schema hands base URLs over parsed (core/variables.ts BaseUrl), every other value as text.
    const site = v.site ? (cfg[v.site] as readonly (string | BaseUrl)[] | undefined) : undefined;
    const values = site?.map((x) => (typeof x === 'string' ? x : x.text));
    const baseUrls = site?.filter((x): x is BaseUrl => typeof x !== 'string');
    out.set(name, compileVariable(name, v, values, baseUrls));
  }
  return out;
}

/** A type check specialised once per variable: it runs for every path segment of every call. */
function typeTest(v: PackVariable): (value: string) => boolean {
  if (v.type === 'segment') return () => true; // parseRequestTarget never yields an empty segment
  if (v.type === 'enum') {
    const values = new Set(v.values);
    return (value) => values.has(value);
  }
  return (value) => typeAccepts(v.type, value, v.values);
}

function compileVariable(name: string, v: PackVariable, values: readonly string[] | undefined, baseUrls: readonly BaseUrl[] | undefined): CompiledVariable {
  const fold = isCaseInsensitive(v.type);
  const bound = values ? new Set(values.map((x) => (fold ? x.toLowerCase() : x))) : undefined;
  const accepts = v.accepts ?? [];
  const test = bound
    ? fold
      ? (value: string) => bound.has(value.toLowerCase()) || accepts.includes(value)
      : (value: string) => bound.has(value) || accepts.includes(value)
    : typeTest(v);
  const describe = bound
    ? `${[...bound, ...accepts].join(' or ')} (site-bound)`
    : describeType(v.type, v.values);
  return { name, type: v.type, bound, baseUrls: baseUrls?.length ? baseUrls : undefined, accepts, values: v.values, test, describe, siteKey: v.site, unboundHosts: v.unbound };
}

/** A host variable with no site value and no unbound patterns (Keycloak's base URL) keeps the provider off. */
function unboundRequiredHost(pack: PolicySource, variables: ReadonlyMap<string, CompiledVariable>): string | undefined {
  for (const [name, v] of Object.entries(pack.variables)) {
    if (HOST_VARIABLE_TYPES.has(v.type) && !variables.get(name)!.bound && !v.unbound) {
      return `providers.${pack.provider}.${v.site} is not set`;
    }
  }
  return undefined;
}

function authorities(
  t: Template,
  variables: ReadonlyMap<string, CompiledVariable>,
  cloudHosts: Readonly<Record<string, string>>,
): { host: string; port: number; prefix: readonly string[] }[] {
  if (t.host.kind === 'literal') {
    return [{ host: cloudHosts[t.host.host] ?? t.host.host, port: t.host.port, prefix: [] }];
  }
  const v = variables.get(t.host.name)!;
  if (v.type === 'base-url') {
    return (v.baseUrls ?? []).map((b) => ({ host: b.host, port: b.port, prefix: b.prefix }));
  }
  const hosts = v.bound ? [...v.bound].map(ruleHost) : (v.unboundHosts ?? []);
  return hosts.map((host) => ({ host, port: 443, prefix: [] }));
}

function routeFor(
  pattern: string,
  port: number,
  provider: Provider,
  tls: TlsMode,
  mode: Mode,
  exact: Map<string, RouteBuilder[]>,
  wildcard: Map<string, RouteBuilder[]>,
): RouteBuilder {
  const isWildcard = pattern.startsWith('*.');
  const table = isWildcard ? wildcard : exact;
  const key = isWildcard ? pattern.slice(2) : pattern;
  const list = table.get(key) ?? [];
  table.set(key, list);
  let route = list.find((r) => r.port === port);
  if (!route) {
    route = { pattern, port, provider, tls, mode, root: newNode() };
    list.push(route);
  }
  return route;
}

function newNode(): NodeBuilder {
  return { literals: new Map(), params: [], terminals: [] };
}

function insert(
  root: NodeBuilder,
  segments: readonly ({ kind: 'literal'; value: string } | { kind: 'variable'; name: string })[],
  variables: ReadonlyMap<string, CompiledVariable>,
  terminal: Terminal,
): void {
  let node = root;
  for (const s of segments) {
    if (s.kind === 'literal') {
      let next = node.literals.get(s.value);
      if (!next) node.literals.set(s.value, (next = newNode()));
      node = next;
    } else {
      const variable = variables.get(s.name)!;
      let edge = node.params.find((p) => p.variable === variable);
      if (!edge) node.params.push((edge = { variable, node: newNode() }));
      node = edge.node;
    }
  }
  node.terminals.push(terminal);
}

function sealRoutes(table: ReadonlyMap<string, readonly RouteBuilder[]>, intern: Map<string, string>): Map<string, HostRoute> {
  const out = new Map<string, HostRoute>();
  for (const [key, routes] of table) {
    let chain: HostRoute | undefined;
    for (const r of [...routes].reverse()) {
      const root = sealNode(r.root);
      chain = { pattern: r.pattern, port: r.port, provider: r.provider, tls: r.tls, mode: r.mode, root, table: flattenTrie(root, intern), nextPort: chain };
    }
    out.set(key, chain!);
  }
  return out;
}

/**
 * The name an intercepted host's leaf certificate carries: the host itself, or the one-label
 * wildcard it is allowed under (`*.okta.com`). A certificate wildcard matches exactly one
 * leftmost label (RFC 6125 section 6.4.3), the same hosts as the policy's wildcard, so one leaf
 * serves every org under an unbound Okta or OneLogin, and every leaf can be minted at start.
 */
export function leafNameFor(policy: Policy, host: string): string {
  return routeOf(policy, host)?.pattern ?? host;
}

/** The routes of a host already in canonical form: its own, else its one-label wildcard's. */
export function routeOf(policy: Policy, host: string): HostRoute | undefined {
  return policy.exact.get(host) ?? policy.wildcard.get(parentDomain(host));
}

export function parentDomain(host: string): string {
  const dot = host.indexOf('.');
  return dot === -1 ? '' : host.slice(dot + 1);
}

/** A host's routes, one per port, from the first in its chain. */
export function portRoutes(first: HostRoute): HostRoute[] {
  const out: HostRoute[] = [];
  for (let r: HostRoute | undefined = first; r; r = r.nextPort) out.push(r);
  return out;
}

/** The leaf names of every intercepted route: what the gateway mints before any request. */
export function leafNames(policy: Policy): string[] {
  return [...new Set(routesOf(policy).filter((r) => r.tls === 'intercept').map((r) => r.pattern))];
}

/** Every route of the policy: exact hosts, then wildcards, each host's ports in order. */
export function routesOf(policy: Policy): HostRoute[] {
  return [...policy.exact.values(), ...policy.wildcard.values()].flatMap(portRoutes);
}

const NONE: readonly never[] = Object.freeze([]);

function sealNode(b: NodeBuilder): PathNode {
  const literalKeys = b.literals.size === 0 ? NONE : [...b.literals.keys()];
  const literalNodes = b.literals.size === 0 ? NONE : [...b.literals.values()].map(sealNode);
  const params = b.params.length === 0 ? NONE : b.params.map((p) => ({ variable: p.variable, node: sealNode(p.node) }));
  // Breadth-first order is the children's order at each depth, so the first child reaching
  // the least depth holds the breadth-first nearest terminal.
  let nearest = b.terminals[0];
  let nearestDepth = 0;
  if (!nearest) {
    for (const child of [...literalNodes, ...params.map((p) => p.node)]) {
      if (child.nearest && (!nearest || child.nearestDepth + 1 < nearestDepth)) {
        nearest = child.nearest;
        nearestDepth = child.nearestDepth + 1;
      }
    }
  }
  return { literalKeys, literalNodes, params, terminals: b.terminals.length === 0 ? NONE : [...b.terminals], nearest, nearestDepth };
}

function compileQueryRule(oneOf: readonly string[] | undefined, variables: ReadonlyMap<string, CompiledVariable>): QueryRule | undefined {
  if (!oneOf) return undefined;
  const vars = oneOf.map((n) => variables.get(n)!);
  // The rule binds the call to the site only once the site binds one of its parameters.
  if (!vars.some((v) => v.bound)) return undefined;
  const map = new Map<string, CompiledVariable>();
  for (const v of vars) {
    // While the rule is active, an unbound parameter accepts only its always-safe values
    // (customer=my_customer names the caller's own account); without any, any valid value.
    map.set(v.name, v.bound || v.accepts.length === 0 ? v : { ...v, test: (x: string) => v.accepts.includes(x), describe: v.accepts.join(' or ') });
  }
  return { oneOf: map };
}

function render(
  host: string,
  port: number,
  prefix: readonly string[],
  t: Template,
  variables: ReadonlyMap<string, CompiledVariable>,
  showBound: boolean,
): string {
  const authority = port === 443 ? host : `${host}:${port}`;
  const segs = [
    ...prefix,
    ...t.segments.map((s) => {
      if (s.kind === 'literal') return s.value;
      const v = variables.get(s.name)!;
      return showBound && v.bound ? `{${s.name}=${[...v.bound, ...v.accepts].join('|')}}` : `{${s.name}}`;
    }),
  ];
  return `https://${authority}/${segs.join('/')}`;
}

function bindingWarnings(pack: PolicySource, variables: ReadonlyMap<string, CompiledVariable>, provider: Provider, tls: TlsMode): string[] {
  const out: string[] = [];
  for (const [name, v] of Object.entries(pack.variables)) {
    if (!v.site || variables.get(name)!.bound) continue;
    const key = `providers.${provider}.${v.site}`;
    if (v.unbound) out.push(`${pack.title}: ${key} is not set, so any host matching ${v.unbound.join(', ')} is allowed; set it to this site's value`);
    else if (v.type === 'entra-tenant') out.push(`${pack.title}: tenant not pinned (${key}): any tenant's token endpoint is allowed; set the directory (tenant) ID`);
    else if (pack.endpoints.some((e) => e.query?.oneOf.includes(name))) continue;
    else out.push(`${pack.title}: ${key} is not set, so any ${name} is allowed`);
  }
  const queryVars = new Set(pack.endpoints.flatMap((e) => e.query?.oneOf ?? []));
  const siteQueryVars = [...queryVars].filter((n) => pack.variables[n]?.site);
  if (siteQueryVars.length > 0 && !siteQueryVars.some((n) => variables.get(n)!.bound)) {
    out.push(`${pack.title}: calls are not bound to this site (set ${siteQueryVars.map((n) => `providers.${provider}.${pack.variables[n]!.site}`).join(' or ')})`);
  }
  if (tls === 'tunnel') out.push(`${pack.title}: tls: tunnel, so only hosts are checked; paths, methods and tenants are not`);
  return out;
}
