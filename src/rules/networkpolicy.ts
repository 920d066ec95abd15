import type { RulesContext } from './context.js';
import { GATEWAY_LABELS, GENERATOR_LABELS, podSelector, renderManifests, type KubernetesTarget } from './kubernetes.js';

/**
 * A Kubernetes NetworkPolicy that lets the Atlassian pods reach the provider hosts only through
 * the gateway: DNS and the gateway's port. NetworkPolicy has no names, only addresses, so the
 * gateway (which does know names) is the one egress these pods get for identity providers.
 */
const CANNOT = [
  'host names: NetworkPolicy selects pods and CIDRs only, so the provider hosts are reached through the gateway',
  'everything else the pods need (database, cluster peers, Synchrony, mail): NetworkPolicies add up, so allow those in policies of their own',
];

export function renderNetworkPolicy(ctx: RulesContext, target: KubernetesTarget): string {
  return renderManifests(ctx, 'k8s-networkpolicy', CANNOT, [
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
        ],
      },
    },
  ]);
}
