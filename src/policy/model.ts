import type { Mode, TlsMode } from '../config/schema.js';
import type { BaseUrl, VariableType } from '../core/variables.js';
import type { EndpointKind } from '../core/endpoint-methods.js';

/**
 * The compiled policy: what compile.ts builds from the packs and the site config, what decide()
 * reads on every request, and what explain, report, rules and probe walk. Read-only and frozen
 * (core/freeze.ts): a reload builds a new one.
 */

/**
 * Where an endpoint comes from: a row of the vendor's table (`documented`), a pack entry the
 * table omits (`variant`, with its note), or the site's own config (`site`, with its file:line).
 */
export type EndpointSource = 'documented' | 'variant' | 'site';

/**
 * A provider's name: a shipped pack's (config/schema.ts ProviderName) or a site-defined one
 * (siteProviders), so any name the config accepts.
 */
export type Provider = string;

/** One endpoint of an enabled provider, as the site config binds it. */
export interface Endpoint {
  readonly provider: Provider;
  readonly id: string;
  readonly kind: EndpointKind;
  readonly methods: readonly string[];
  readonly reason: string;
  readonly source: EndpointSource;
  readonly variant: string | undefined;
  /** Site endpoints: `file:line` where the config defines it. */
  readonly site: string | undefined;
  /** Each URL template with its host filled in and bound variables shown, e.g. {directoryTenantId=contoso.com}. */
  readonly urls: readonly string[];
  readonly mode: Mode;
  readonly tls: TlsMode;
}

export interface CompiledVariable {
  readonly name: string;
  readonly type: VariableType;
  /** Site-bound values (lower-cased when the type is case-blind); undefined when unbound. */
  readonly bound: ReadonlySet<string> | undefined;
  /** base-url variables: the site's base URLs as the config parsed them. */
  readonly baseUrls: readonly BaseUrl[] | undefined;
  readonly accepts: readonly string[];
  /** enum: the values it takes. */
  readonly values: readonly string[] | undefined;
  readonly test: (value: string) => boolean;
  readonly describe: string;
  /** The config key that binds it (providers.<provider>.<siteKey>), bound or not. */
  readonly siteKey: string | undefined;
  /** Host variables: the pack's host patterns for a site that leaves the variable unbound. */
  readonly unboundHosts: readonly string[] | undefined;
}

export interface QueryRule {
  /** Parameters of which one must be present and accepted; the call is then bound to the site. */
  readonly oneOf: ReadonlyMap<string, CompiledVariable>;
}

export interface Terminal {
  readonly endpoint: Endpoint;
  /** The template this path matched, host filled in, path variables as {name}. */
  readonly template: string;
  readonly query: QueryRule | undefined;
  /** The endpoint's methods, and the same as bits (path-table.ts methodBit) for matching. */
  readonly methods: readonly string[];
  readonly methodMask: number;
  /** The endpoint's id and kind, copied so an allow decision reads one object, not two. */
  readonly endpointId: string;
  readonly kind: EndpointKind;
  /** The allow decision's reason, built once. */
  readonly allowReason: string;
}

/**
 * One node of a host's path trie, compacted once compiled: exact-size arrays and no empty
 * containers (a trie of growable arrays and Maps cost about 3 KB per endpoint). decide()
 * matches on the flattened copy (path-table.ts); this one is walked by denial diagnosis, the
 * rules formats and probe.
 */
export interface PathNode {
  /** Literal children as parallel arrays, in insertion order. */
  readonly literalKeys: readonly string[];
  readonly literalNodes: readonly PathNode[];
  readonly params: readonly { readonly variable: CompiledVariable; readonly node: PathNode }[];
  readonly terminals: readonly Terminal[];
  /**
   * The shortest allowed continuation from here (first in breadth-first order), and how many
   * segments away it is: what a denial that stopped at this node names as the closest rule.
   */
  readonly nearest: Terminal | undefined;
  readonly nearestDepth: number;
}

/** One host's path trie as a flat array; its layout is described in path-table.ts. */
export type PathTable = readonly unknown[];

export interface HostRoute {
  /** The host, or `*.parent` for a one-label wildcard from a pack's unbound host patterns. */
  readonly pattern: string;
  readonly port: number;
  readonly provider: Provider;
  readonly tls: TlsMode;
  readonly mode: Mode;
  readonly root: PathNode;
  /** The same trie flattened for matching (path-table.ts). */
  readonly table: PathTable;
  /**
   * The same host's route on another port. A chain rather than an array per host: a host has
   * one port nearly always, and a lookup then reads one object where an array costs three.
   */
  readonly nextPort: HostRoute | undefined;
}

export interface ProviderStatus {
  readonly provider: Provider;
  readonly title: string;
  readonly enabled: boolean;
  /** Why a provider is off, when it is. */
  readonly off: string | undefined;
  /** Off only because a required host binding (Keycloak's base URL) is missing. */
  readonly offForBinding: boolean;
  readonly mode: Mode;
  readonly tls: TlsMode;
  readonly hosts: readonly string[];
}

export interface Policy {
  readonly mode: Mode;
  readonly providers: readonly ProviderStatus[];
  readonly endpoints: readonly Endpoint[];
  /** Exact host -> its routes (one per port, chained by nextPort). */
  readonly exact: ReadonlyMap<string, HostRoute>;
  /** Parent domain -> one-label wildcard routes (`*.okta.com` is stored under okta.com). */
  readonly wildcard: ReadonlyMap<string, HostRoute>;
  /** Hosts of providers that are off, so a denial can say why. */
  readonly offHosts: ReadonlyMap<string, string>;
  /** Providers whose API calls must present a bearer token from one of these tenant GUIDs (lower case). */
  readonly tokenTenants: ReadonlyMap<Provider, ReadonlySet<string>>;
  /** Per provider, the lower-cased query parameter names whose values a log may show (pack logQuery). */
  readonly loggableQuery: ReadonlyMap<Provider, ReadonlySet<string>>;
  /** Allowed host patterns by their last two labels, to name look-alikes without scanning every host. */
  readonly hostsBySuffix: ReadonlyMap<string, readonly string[]>;
  readonly warnings: readonly string[];
}
