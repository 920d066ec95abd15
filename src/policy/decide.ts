import type { Mode, TlsMode } from '../config/schema.js';
import { closest as closestWord } from '../core/suggest.js';
import type { Code, DenyCode } from '../core/errors.js';
import { lastTwoLabels, parentDomain, portRoutes, routeOf } from './compile.js';
import type { HostRoute, PathNode, Policy, Provider, QueryRule, Terminal } from './model.js';
import { normaliseHost } from '../core/host.js';
import type { EndpointKind } from '../core/endpoint-methods.js';
import { firstTerminalAt, matchPath, NO_NODE, terminalFor } from './path-table.js';
import { redactUrl } from '../core/redact.js';
import { parseRequestTarget } from './request-target.js';

/**
 * What the proxy knows about one request. `target` is the origin-form request target exactly as
 * received (`/v1.0/users?$top=999`); it is omitted for a CONNECT, which is judged on host and port.
 */
export interface DecisionRequest {
  readonly method: string;
  readonly scheme: string;
  readonly host: string;
  readonly port?: number | undefined;
  readonly target?: string | undefined;
  /** TLS server name the client sent, when the request came through an intercepted tunnel. */
  readonly sni?: string | undefined;
  /** The request's Host header, when it must agree with `host`. */
  readonly hostHeader?: string | undefined;
}

export interface ClosestRule {
  readonly endpoint: string;
  readonly methods: readonly string[];
  readonly template: string;
}

export interface Decision {
  readonly action: 'allow' | 'deny';
  readonly code: Code;
  readonly reason: string;
  /** enforce: a deny is final; observe: the proxy forwards it and logs would_deny. */
  readonly mode: Mode;
  /** The normalised host and port the request is for, once they could be read. */
  readonly host?: string | undefined;
  readonly port?: number | undefined;
  readonly provider?: Provider | undefined;
  readonly endpoint?: string | undefined;
  /** The endpoint is the site's own (site-endpoints.ts): where the config defines it, file:line. */
  readonly site?: string | undefined;
  readonly kind?: EndpointKind | undefined;
  readonly template?: string | undefined;
  readonly tls?: TlsMode | undefined;
  /** For denials: the rule that came closest, to say what would have been allowed. */
  readonly closest?: ClosestRule | undefined;
}

/**
 * Denials that observe mode still enforces: nothing sensible can be forwarded (a malformed or
 * plain-http request, an IP literal), or forwarding would be the very attack (domain fronting,
 * request smuggling, a header that re-targets the request).
 */
const ALWAYS_ENFORCED: ReadonlySet<Code> = new Set([
  'MALFORMED_REQUEST',
  'AMBIGUOUS_REQUEST',
  'OVERRIDE_HEADER_NOT_ALLOWED',
  'TARGET_TOO_LONG',
  'SCHEME_NOT_ALLOWED',
  'USERINFO_NOT_ALLOWED',
  'IP_LITERAL_NOT_ALLOWED',
  'SNI_MISMATCH',
  'HOST_HEADER_MISMATCH',
]);

/**
 * What happens to a decision: a denial is enforced (answered, never forwarded) in enforce mode,
 * and in observe mode when it is one of the always-enforced codes; otherwise observe mode
 * forwards it and reports it as would_deny. judge.ts turns it into the verdict's effect.
 */
export function isEnforced(decision: Decision): boolean {
  return decision.action === 'deny' && (decision.mode === 'enforce' || ALWAYS_ENFORCED.has(decision.code));
}

// RFC 9110 section 5.6.2: token = 1*tchar.
const METHOD_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const KNOWN_METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'CONNECT', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function decide(policy: Policy, req: DecisionRequest): Decision {
  if (!KNOWN_METHODS.has(req.method) && !METHOD_TOKEN.test(req.method)) {
    return deny({ mode: policy.mode }, 'MALFORMED_REQUEST', `${JSON.stringify(req.method)} is not an HTTP method`);
  }
  const isConnect = req.method === 'CONNECT';
  // Compared as given first: lower-casing every request's scheme cost ~5% of a decision (measured).
  if (!isConnect && req.scheme !== 'https') {
    const scheme = req.scheme.toLowerCase();
    if (scheme !== 'https') {
      return deny({ mode: policy.mode }, 'SCHEME_NOT_ALLOWED', `${scheme}://${req.host} is not https; identity providers are only reached over TLS`);
    }
  }

  // A host that is already a key of the policy is in canonical form by construction, so the
  // common case skips normalisation; anything else is normalised before it is looked up.
  let hostRoute = policy.exact.get(req.host);
  let host = req.host;
  if (!hostRoute) {
    const h = normaliseHost(req.host);
    if (!h.ok) return deny({ mode: policy.mode }, h.code, h.reason);
    host = h.host;
    hostRoute = routeOf(policy, host);
  }
  const port = req.port ?? 443;
  if (!hostRoute) return denyHost(policy, host, port);

  const route = onPort(hostRoute, port);
  if (!route) {
    const ports = portRoutes(hostRoute).map((r) => r.port);
    return deny({ mode: policy.mode, host, port }, 'PORT_NOT_ALLOWED', `${host} is allowed on port ${ports.join(', ')}, not ${port}`);
  }
  const at = (endpoint?: Terminal): DenyContext => ({
    mode: route.mode,
    host,
    port,
    provider: route.provider,
    tls: route.tls,
    endpoint: endpoint?.endpointId,
    site: endpoint?.endpoint.site,
    kind: endpoint?.kind,
    template: endpoint?.template,
  });

  if (req.sni !== undefined) {
    const sni = normaliseHost(req.sni);
    if (!sni.ok || sni.host !== host) {
      return deny(at(), 'SNI_MISMATCH', `TLS server name ${JSON.stringify(req.sni)} is not the CONNECT host ${host}`);
    }
  }
  if (req.hostHeader !== undefined) {
    const problem = hostHeaderProblem(req.hostHeader, host, port);
    if (problem) return deny(at(), 'HOST_HEADER_MISMATCH', problem);
  }
  if (isConnect || req.target === undefined) {
    return decision('allow', 'ALLOWED', `${host}:${port} serves ${route.provider} endpoints`, at());
  }

  const t = parseRequestTarget(req.target);
  if (!t.ok) return deny(at(), t.code, t.reason);

  const node = matchPath(route.table, t.segments);
  if (node === NO_NODE) return diagnose(at(), route, t.segments);

  const terminal = terminalFor(route.table, node, req.method);
  if (!terminal) {
    const first = firstTerminalAt(route.table, node);
    return deny(at(first), 'METHOD_NOT_ALLOWED', `${first.endpointId} allows ${first.methods.join(', ')}, not ${req.method}`, closestOf(first));
  }
  if (terminal.query) {
    const problem = queryProblem(terminal.query, t.query);
    if (problem) return deny(at(terminal), 'QUERY_NOT_ALLOWED', problem, closestOf(terminal));
  }
  return {
    action: 'allow',
    code: 'ALLOWED',
    reason: terminal.allowReason,
    mode: route.mode,
    host,
    port,
    provider: route.provider,
    endpoint: terminal.endpointId,
    site: terminal.endpoint.site,
    kind: terminal.kind,
    template: terminal.template,
    tls: route.tls,
    closest: undefined,
  };
}

function onPort(first: HostRoute, port: number): HostRoute | undefined {
  let route: HostRoute | undefined = first;
  while (route && route.port !== port) route = route.nextPort;
  return route;
}


interface DenyContext {
  readonly mode: Mode;
  readonly host?: string | undefined;
  readonly port?: number | undefined;
  readonly provider?: Provider | undefined;
  readonly tls?: TlsMode | undefined;
  /** The endpoint the path matched, when the method or query was what failed. */
  readonly endpoint?: string | undefined;
  readonly site?: string | undefined;
  readonly kind?: EndpointKind | undefined;
  readonly template?: string | undefined;
}

function deny(
  at: DenyContext,
  code: DenyCode,
  reason: string,
  closest?: ClosestRule,
): Decision {
  return decision('deny', code, reason, at, closest);
}

/**
 * Every decision has the same fields in the same order, unset ones undefined: one object shape
 * for the proxy, the audit and metrics to read, instead of a shape per path through decide().
 */
function decision(action: 'allow' | 'deny', code: Code, reason: string, at: DenyContext, closest?: ClosestRule): Decision {
  return {
    action,
    code,
    reason,
    mode: at.mode,
    host: at.host,
    port: at.port,
    provider: at.provider,
    endpoint: at.endpoint,
    site: at.site,
    kind: at.kind,
    template: at.template,
    tls: at.tls,
    closest,
  };
}

function literalChild(node: PathNode, seg: string): PathNode | undefined {
  const keys = node.literalKeys;
  for (let k = 0; k < keys.length; k++) {
    if (keys[k] === seg) return node.literalNodes[k];
  }
  return undefined;
}

/** On the deny path only: how far the path got, and which value stopped it. */
function diagnose(at: DenyContext, route: HostRoute, segments: readonly string[]): Decision {
  let bestDepth = -1;
  let bestNode = route.root;
  let rejection: { depth: number; variable: string; describe: string; siteBound: boolean } | undefined;
  const walk = (node: PathNode, i: number) => {
    if (i > bestDepth) {
      bestDepth = i;
      bestNode = node;
    }
    if (i === segments.length) return;
    const seg = segments[i]!;
    const literal = literalChild(node, seg);
    if (literal) walk(literal, i + 1);
    for (const p of node.params) {
      if (p.variable.test(seg)) walk(p.node, i + 1);
      else if (!literal && (!rejection || i >= rejection.depth)) {
        rejection = { depth: i, variable: p.variable.name, describe: p.variable.describe, siteBound: p.variable.siteKey !== undefined };
      }
    }
  };
  walk(route.root, 0);

  const closest = bestNode.nearest ? closestOf(bestNode.nearest) : undefined;
  const matched = `/${segments.slice(0, bestDepth).join('/')}`;
  const shown = JSON.stringify(segments[bestDepth] ?? '');
  if (rejection && rejection.depth === bestDepth) {
    const what = `path segment ${bestDepth + 1} ${shown} is not an allowed {${rejection.variable}}: expected ${rejection.describe}`;
    return deny(at, rejection.siteBound ? 'TENANT_NOT_ALLOWED' : 'PATH_NOT_ALLOWED', what, closest);
  }
  const reason =
    bestDepth === segments.length
      ? `${matched} is only the start of an allowed path`
      : bestDepth === 0
        ? `no ${route.provider} endpoint on ${route.pattern} starts with /${segments[0]}`
        : `no ${route.provider} endpoint continues ${matched} with ${shown}`;
  return deny(at, 'PATH_NOT_ALLOWED', reason, closest);
}

function closestOf(t: Terminal): ClosestRule {
  return { endpoint: t.endpointId, methods: t.methods, template: t.template };
}

function denyHost(policy: Policy, host: string, port: number): Decision {
  const at = { mode: policy.mode, host, port };
  const off = policy.offHosts.get(host) ?? policy.offHosts.get(`*.${parentDomain(host)}`);
  if (off) return deny(at, 'HOST_NOT_ALLOWED', `${host}: ${off}`);
  const lookalike = lookalikeOf(policy, host);
  const hint = lookalike ? ` (it is not ${lookalike})` : '';
  return deny(at, 'HOST_NOT_ALLOWED', `no enabled provider has endpoints on ${host}${hint}${offNote(policy)}`);
}

/** Which providers are off for want of a binding: the same for every denial under one policy. */
const offNotes = new WeakMap<Policy, string>();
function offNote(policy: Policy): string {
  let note = offNotes.get(policy);
  if (note === undefined) {
    const unplaced = policy.providers.filter((p) => p.offForBinding).map((p) => `${p.title} is off: ${p.off}`);
    note = unplaced.length > 0 ? `; ${unplaced.join('; ')}` : '';
    offNotes.set(policy, note);
  }
  return note;
}

/**
 * An allowed host this one imitates: an allowed host followed by more labels
 * (graph.microsoft.com.evil.test), or a near-miss under the same parent (evilgraph.microsoft.com).
 * Bounded work per call: O(labels) map lookups plus a few edit distances among relatives.
 */
const MAX_LOOKALIKE_CANDIDATES = 32;

function lookalikeOf(policy: Policy, host: string): string | undefined {
  for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.', dot + 1)) {
    const prefix = host.slice(0, dot);
    if (policy.exact.has(prefix)) return prefix;
  }
  const relatives = (policy.hostsBySuffix.get(lastTwoLabels(host)) ?? []).filter((k) => !k.startsWith('*.'));
  const suffixed = relatives.find((k) => host.endsWith(k));
  if (suffixed) return suffixed;
  return relatives.length <= MAX_LOOKALIKE_CANDIDATES ? closestWord(host, relatives) : undefined;
}

function hostHeaderProblem(header: string, host: string, port: number): string | undefined {
  // What clients send (the tunnel's host, as its CONNECT named it): no parse, no quoting.
  if ((header === host && port === 443) || header === `${host}:${port}`) return undefined;
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(header);
  const h = m ? normaliseHost(m[1]!) : undefined;
  // Quoted without any user:password@, which a reason must never repeat.
  const shown = JSON.stringify(redactUrl(header));
  if (!m || !h?.ok) return `Host header ${shown} is not a host name`;
  const headerPort = m[2] === undefined ? 443 : Number(m[2]);
  if (h.host !== host || headerPort !== port) return `Host header ${shown} differs from ${host}:${port}`;
  return undefined;
}

/**
 * Every occurrence of every binding parameter must name this site, and at least one must be
 * there: `customer=OTHER&customer=<ours>` and `customer=my_customer&domain=other.example` are
 * denied, since a provider may read either occurrence (parameter pollution).
 */
function queryProblem(rule: QueryRule, query: string | undefined): string | undefined {
  let bound = false;
  if (query !== undefined) {
    let from = 0;
    while (from <= query.length) {
      let amp = query.indexOf('&', from);
      if (amp === -1) amp = query.length;
      const eq = query.indexOf('=', from);
      const nameEnd = eq === -1 || eq > amp ? amp : eq;
      const name = decodeQueryPart(query.slice(from, nameEnd));
      const variable = name === undefined ? undefined : rule.oneOf.get(name);
      if (variable) {
        const value = decodeQueryPart(nameEnd === amp ? '' : query.slice(nameEnd + 1, amp));
        if (value === undefined || !variable.test(value)) return `query parameter ${name} must be ${variable.describe}; every ${name} in the query must name this site`;
        bound = true;
      }
      from = amp + 1;
    }
  }
  if (bound) return undefined;
  const wanted = [...rule.oneOf.values()].map((v) => `${v.name}=${v.describe}`).join('; or ');
  return `the query must bind the call to this site with ${wanted}`;
}

/** application/x-www-form-urlencoded decoding of one query name or value (WHATWG URL). */
function decodeQueryPart(s: string): string | undefined {
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

