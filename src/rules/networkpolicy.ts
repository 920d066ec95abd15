import type { RulesContext } from './context.js';
import { GATEWAY_LABELS, GENERATOR_LABELS, podSelector, renderManifests, type KubernetesTarget } from './kubernetes.js';

/**
 * A Kubernetes NetworkPolicy that lets the Atlassian pods reach the provider hosts only through
 * the gateway: DNS and the gateway's port. NetworkPolicy has no names, only addresses, so the
 * gateway (which does know names) is the one egress these pods get for identity providers.
 */
const CANNOT = [
  'host names: NetworkPolicy selects pods and CIDRs only, so the provider hosts are reached through the gateway',
];

/** As for Cilium: an egress policy denies every other egress of the pods it selects, so the posture says what they keep. */
function postureLine(ctx: RulesContext): string {
  const reachable = [...ctx.reachable.v4, ...ctx.reachable.v6].join(', ') || 'none listed';
  return ctx.posture === 'strict'
    ? `posture strict: the selected pods reach only kube-dns, the gateway's port and rules.reachable (${reachable}); everything else is cut, other pods of their own namespace too (the database, cluster peers, Synchrony, shared storage): NetworkPolicies add up, so allow those in policies of their own`
    : `posture idp-only: the selected pods keep kube-dns, every pod of their own namespace and rules.reachable (${reachable}); everything else, the internet included, only through the gateway`;
}

export function renderNetworkPolicy(ctx: RulesContext, target: KubernetesTarget): string {
  const reachable = [...ctx.reachable.v4, ...ctx.reachable.v6];
  return renderManifests(ctx, 'k8s-networkpolicy', CANNOT, postureLine(ctx), [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'idp-egress-only-via-gateway', namespace: target.namespace, labels: { ...GENERATOR_LABELS } },
      spec: {
        podSelector: podSelector(target),
        policyTypes: ['Egress'],
        egress: [
          {
            to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
            ports: [
              { protocol: 'UDP', port: 53 },
              { protocol: 'TCP', port: 53 },
            ],
          },
          { to: [{ podSelector: { matchLabels: { ...GATEWAY_LABELS } } }], ports: [{ protocol: 'TCP', port: target.gatewayPort }] },
          // An empty podSelector: every pod of the policy's own namespace.
          ...(ctx.posture === 'strict' ? [] : [{ to: [{ podSelector: {} }] }]),
          ...(reachable.length > 0 ? [{ to: reachable.map((cidr) => ({ ipBlock: { cidr } })) }] : []),
        ],
      },
    },
  ]);
}
