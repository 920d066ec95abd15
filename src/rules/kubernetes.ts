import { stringify } from 'yaml';
import { header, type RulesContext } from './context.js';

/** Where the Kubernetes formats apply: the Atlassian pods and the gateway's port. */
export interface KubernetesTarget {
  readonly namespace: string;
  /** matchLabels for the Atlassian pods; undefined selects the Atlassian Helm charts' pods. */
  readonly podLabels?: Readonly<Record<string, string>> | undefined;
  /** The gateway's listen port, which the Atlassian pods dial (NetworkPolicy). */
  readonly gatewayPort: number;
}

export const KUBERNETES_DEFAULTS = { namespace: 'atlassian' } as const;

/** Pods of Atlassian's Data Center Helm charts carry app.kubernetes.io/name: jira or confluence. */
export function podSelector(target: KubernetesTarget): object {
  return target.podLabels
    ? { matchLabels: { ...target.podLabels } }
    : { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In', values: ['jira', 'confluence'] }] };
}

/** The gateway's own pods, as deploy/kubernetes labels them. */
export const GATEWAY_LABELS = { 'app.kubernetes.io/name': 'idp-egress' } as const;

export const GENERATOR_LABELS = { 'app.kubernetes.io/managed-by': 'idp-egress' } as const;

/** "k=v,k2=v2" as matchLabels; undefined for anything else. */
export function parseLabels(text: string): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const m = /^([A-Za-z0-9][-A-Za-z0-9_./]*)=([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/.exec(pair.trim());
    if (!m) return undefined;
    labels[m[1]!] = m[2] ?? '';
  }
  return labels;
}

/** Manifests as one YAML stream after the comment header; keys in the order given. */
export function renderManifests(ctx: RulesContext, format: string, cannot: readonly string[], what: string | undefined, manifests: readonly object[]): string {
  return header(ctx, '#', format, cannot, '\n', what) + manifests.map((m) => `---\n${stringify(m, { lineWidth: 0 })}`).join('');
}

/** A host as a DNS-1123 fragment for object names: "*.okta.com" -> "wildcard-okta-com". */
export function nameFragment(host: string): string {
  return host.replace(/^\*\./, 'wildcard.').replace(/[^a-z0-9-]/g, '-');
}
