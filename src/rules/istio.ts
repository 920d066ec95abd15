import type { RulesContext } from './context.js';
import { GENERATOR_LABELS, renderManifests, type KubernetesTarget } from './kubernetes.js';

/**
 * Istio: ServiceEntries for the provider hosts plus a Sidecar with outboundTrafficPolicy
 * REGISTRY_ONLY, so the namespace's pods reach no other external host. Resolution NONE passes
 * TLS through to the address the pod resolved, which is what wildcard hosts require.
 */
const CANNOT = [
  'paths, methods and tenants: TLS passes through, so Envoy routes on the server name only',
  '"*.parent" matches one or more labels below parent in Istio, wider than the gateway\'s one label',
  'REGISTRY_ONLY applies to all external traffic of the namespace: the database, mail and marketplace hosts need ServiceEntries of their own',
];

export function renderIstio(ctx: RulesContext, target: KubernetesTarget): string {
  const ports = [...new Set(ctx.hosts.map((h) => h.port))].sort((a, b) => a - b);
  const entries = ports.map((port) => ({
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name: port === 443 ? 'idp-egress-providers' : `idp-egress-providers-${port}`, namespace: target.namespace, labels: { ...GENERATOR_LABELS } },
    spec: {
      hosts: [...new Set(ctx.hosts.filter((h) => h.port === port).map((h) => h.host))],
      location: 'MESH_EXTERNAL',
      ports: [{ number: port, name: `tls-${port}`, protocol: 'TLS' }],
      resolution: 'NONE',
      exportTo: ['.'],
    },
  }));
  const sidecar = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'Sidecar',
    metadata: { name: 'default', namespace: target.namespace, labels: { ...GENERATOR_LABELS } },
    spec: { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' }, egress: [{ hosts: ['./*', 'istio-system/*'] }] },
  };
  return renderManifests(ctx, 'istio', CANNOT, undefined, [...entries, sidecar]);
}
