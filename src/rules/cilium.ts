import type { AllowedHost } from './allowlist.js';
import type { RulesContext } from './context.js';
import { GENERATOR_LABELS, nameFragment, podSelector, renderManifests, type KubernetesTarget } from './kubernetes.js';

/**
 * CiliumNetworkPolicy (cilium.io/v2). Cilium's matchPattern "*" is exactly one DNS label, the
 * gateway's own meaning of "*.okta.com", so wildcards carry over unchanged. toFQDNs only admits
 * addresses that Cilium's DNS proxy saw in answers to the pod, hence the DNS rule first.
 */
const CANNOT_HOST_LEVEL = [
  'paths, methods and tenants: toFQDNs allows the hosts\' addresses on their ports (use cilium-l7 with Cilium\'s TLS interception for paths)',
  'the TLS server name: other names served from the same addresses are reachable too',
];
const CANNOT_L7 = [
  'nothing without Cilium\'s TLS interception: the terminatingTLS and originatingTLS secrets named below must exist, or these ports fail closed',
  'tunnel-mode providers get host-level rules only, as in the gateway',
  'apply either cilium or cilium-l7, not both: Cilium merges a host-level allow on a port with L7 rules on that port into allow-all',
];

const KUBE_DNS = {
  toEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'kube-system', 'k8s:k8s-app': 'kube-dns' } }],
  toPorts: [{ ports: [{ port: '53', protocol: 'ANY' }] }],
};

const fqdn = (h: AllowedHost) => (h.wildcard ? { matchPattern: h.host } : { matchName: h.host });

/**
 * A CiliumNetworkPolicy with egress rules denies every other egress of the pods it selects, so
 * what else they keep is the posture's (docs/rules.md): idp-only keeps DNS for any name, the
 * pods' own namespace and rules.reachable, so the database, cluster peers and Synchrony keep
 * working; strict keeps only DNS for the IdP names and rules.reachable.
 */
function siteRules(ctx: RulesContext): object[] {
  const strict = ctx.posture === 'strict';
  const names = strict ? [...new Map(ctx.hosts.map((h) => [h.host, fqdn(h)])).values()] : [{ matchPattern: '*' }];
  const reachable = [...ctx.reachable.v4, ...ctx.reachable.v6];
  return [
    { ...KUBE_DNS, toPorts: [{ ...KUBE_DNS.toPorts[0], rules: { dns: names } }] },
    // An empty selector: every endpoint in the policy's own namespace.
    ...(strict ? [] : [{ toEndpoints: [{}] }]),
    ...(reachable.length > 0 ? [{ toCIDR: reachable }] : []),
  ];
}

function postureLine(ctx: RulesContext): string {
  const reachable = [...ctx.reachable.v4, ...ctx.reachable.v6].join(', ') || 'none listed';
  return ctx.posture === 'strict'
    ? `posture strict: the selected pods reach only kube-dns (for the IdP names), the IdP hosts and rules.reachable (${reachable}); everything else is cut: other pods, in their own namespace too (the database, cluster peers, Synchrony, shared storage), and every other name`
    : `posture idp-only: the selected pods keep DNS for any name, every pod of their own namespace and rules.reachable (${reachable}); on the internet they reach only the IdP hosts (egress rules deny every other egress of the pods they select: list other destinations in rules.reachable)`;
}

/** Hosts grouped by port: one toFQDNs rule each. */
function byPort(hosts: readonly AllowedHost[]): Map<number, AllowedHost[]> {
  const groups = new Map<number, AllowedHost[]>();
  for (const h of hosts) groups.set(h.port, [...(groups.get(h.port) ?? []), h]);
  return groups;
}

function l4Rule(port: number, hosts: readonly AllowedHost[]) {
  return { toFQDNs: [...new Map(hosts.map((h) => [h.host, fqdn(h)])).values()], toPorts: [{ ports: [{ port: String(port), protocol: 'TCP' }] }] };
}

function policy(name: string, description: string, target: KubernetesTarget, egress: object[]) {
  return {
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumNetworkPolicy',
    metadata: { name, namespace: target.namespace, labels: { ...GENERATOR_LABELS } },
    spec: { description, endpointSelector: podSelector(target), egress },
  };
}

/** Host level: DNS visibility plus toFQDNs per port. */
export function renderCilium(ctx: RulesContext, target: KubernetesTarget): string {
  const egress = [...siteRules(ctx), ...[...byPort(ctx.hosts)].map(([port, hosts]) => l4Rule(port, hosts))];
  return renderManifests(ctx, 'cilium', CANNOT_HOST_LEVEL, postureLine(ctx), [policy('idp-egress-allowlist', 'idp-egress: identity-provider hosts only', target, egress)]);
}

/**
 * Our anchored path ERE as Cilium's HTTP path, which Envoy matches against the whole ":path"
 * pseudo-header, query string included (RFC 9113 section 8.3.1): so the query is allowed after it.
 */
export function ciliumPath(pathRegex: string): string {
  return `${pathRegex.replace(/^\^/, '').replace(/\$$/, '')}(\\?.*)?`;
}

function l7Rule(h: AllowedHost, namespace: string) {
  const http = h.paths.map((p) => ({ method: p.methods.join('|'), path: ciliumPath(p.pathRegex), ...(h.wildcard ? {} : { host: h.host }) }));
  return {
    toFQDNs: [fqdn(h)],
    toPorts: [
      {
        ports: [{ port: String(h.port), protocol: 'TCP' }],
        // Cilium TLS interception: the pod sees a certificate from this secret (its CA must be
        // trusted by the JVM), and Cilium verifies the provider against the CA bundle.
        terminatingTLS: { secret: { namespace, name: `idp-egress-tls-${nameFragment(h.host)}` } },
        originatingTLS: { secret: { namespace: 'kube-system', name: 'idp-egress-upstream-ca' } },
        rules: { http },
      },
    ],
  };
}

/** Path level for intercept-mode providers (Cilium's TLS interception), host level for the rest. */
export function renderCiliumL7(ctx: RulesContext, target: KubernetesTarget): string {
  const intercept = ctx.hosts.filter((h) => h.tls === 'intercept' && h.paths.length > 0);
  const tunnel = ctx.hosts.filter((h) => !intercept.includes(h));
  const egress = [...siteRules(ctx), ...intercept.map((h) => l7Rule(h, target.namespace)), ...[...byPort(tunnel)].map(([port, hosts]) => l4Rule(port, hosts))];
  return renderManifests(ctx, 'cilium-l7', CANNOT_L7, postureLine(ctx), [policy('idp-egress-allowlist', 'idp-egress: identity-provider endpoints, paths enforced by TLS interception', target, egress)]);
}
