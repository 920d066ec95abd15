import { CiliumNetworkPolicy } from '@kubernetes-models/cilium/cilium.io/v2/CiliumNetworkPolicy';
import { ServiceEntry } from '@kubernetes-models/istio/networking.istio.io/v1/ServiceEntry';
import { Sidecar } from '@kubernetes-models/istio/networking.istio.io/v1/Sidecar';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseSiteConfig } from '../../../src/config/load.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import { loadPacks } from '../../../src/policy/pack.js';
import { judge, RULES_SITE } from '../../support/policy.js';
import { cliIn } from '../../support/cli.js';

const SITE = RULES_SITE;

async function rules(format: string, extra: string[] = []) {
  const { status, out, err } = await cliIn(SITE, ['rules', '--format', format, ...extra]);
  const docs = status === 0 ? parseAllDocuments(out).map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace: string }; spec: Record<string, unknown> }) : [];
  return { status, out, err, docs };
}

interface CnpRule {
  toFQDNs?: ({ matchName: string } | { matchPattern: string })[];
  toEndpoints?: unknown[];
  toPorts: { ports: { port: string; protocol: string }[]; terminatingTLS?: unknown; rules?: { dns?: unknown[]; http?: { method: string; path: string; host?: string }[] } }[];
}

describe('cilium', () => {
  it('validates against the CiliumNetworkPolicy CRD: DNS visibility first, then toFQDNs per port', async () => {
    const r = await rules('cilium');
    expect(r.out).toMatch(/^# idp-egress rules, format cilium\n/);
    expect(r.docs).toHaveLength(1);
    new CiliumNetworkPolicy(r.docs[0] as never).validate();
    const egress = r.docs[0]!.spec['egress'] as CnpRule[];
    expect(egress[0]!.toPorts[0]!.ports).toEqual([{ port: '53', protocol: 'ANY' }]);
    // idp-only (the default): DNS for any name, and the pods' own namespace, so the database,
    // cluster peers and Synchrony keep working; Cilium denies every other egress of these pods.
    expect(egress[0]!.toPorts[0]!.rules!.dns).toEqual([{ matchPattern: '*' }]);
    expect(egress[1]).toEqual({ toEndpoints: [{}] });
    expect(r.out).toContain('# posture idp-only: the selected pods keep DNS for any name, every pod of their own namespace');
    expect(egress.slice(2).map((e) => [e.toPorts[0]!.ports[0]!.port, e.toFQDNs])).toEqual([
      ['443', [{ matchName: 'graph.microsoft.com' }, { matchName: 'login.microsoftonline.com' }, { matchPattern: '*.okta-emea.com' }, { matchPattern: '*.okta.com' }, { matchPattern: '*.oktapreview.com' }]],
      ['8443', [{ matchName: 'sso.example.org' }]],
    ]);
  });

  it('under strict, resolves only the IdP names, cuts the namespace, keeps rules.reachable, and says so', async () => {
    const r = await cliIn(`${SITE}rules:\n  reachable: [10.20.0.0/16]\n`, ['rules', '--format', 'cilium', '--posture', 'strict']);
    const doc = parseAllDocuments(r.out)[0]!.toJS() as { spec: { egress: (CnpRule & { toCIDR?: string[] })[] } };
    new CiliumNetworkPolicy(doc as never).validate();
    const egress = doc.spec.egress;
    expect(egress[0]!.toPorts[0]!.rules!.dns).toContainEqual({ matchPattern: '*.okta.com' });
    expect(egress[0]!.toPorts[0]!.rules!.dns).not.toContainEqual({ matchPattern: '*' });
    expect(egress.some((e) => e.toEndpoints !== undefined && e.toPorts === undefined)).toBe(false);
    expect(egress[1]).toEqual({ toCIDR: ['10.20.0.0/16'] });
    expect(r.out).toContain('# posture strict: the selected pods reach only kube-dns (for the IdP names), the IdP hosts and rules.reachable (10.20.0.0/16); everything else is cut');
  });

  it('the validator rejects what Cilium would: a regex in matchPattern', () => {
    expect(() => new CiliumNetworkPolicy({ metadata: { name: 'x' }, spec: { endpointSelector: {}, egress: [{ toFQDNs: [{ matchPattern: '.*\\.okta\\.com' }] }] } } as never).validate()).toThrow(/matchPattern/);
  });

  it('--namespace and --pod-labels place it; bad values are refused with the fix', async () => {
    const r = await rules('cilium', ['--namespace', 'jira', '--pod-labels', 'app.kubernetes.io/instance=jira-prod,tier=app']);
    expect(r.docs[0]!.metadata.namespace).toBe('jira');
    expect(r.docs[0]!.spec['endpointSelector']).toEqual({ matchLabels: { 'app.kubernetes.io/instance': 'jira-prod', tier: 'app' } });
    const bad = await rules('cilium', ['--pod-labels', 'jira']);
    expect(bad.status).toBe(1);
    expect(bad.err).toContain('write key=value[,key=value]');
    expect((await rules('cilium', ['--namespace', 'Jira_Prod'])).err).toContain('is not a Kubernetes namespace name');
  });
});

describe('cilium-l7', () => {
  it('validates, with HTTP rules behind TLS interception for intercept providers and host rules for tunnel ones', async () => {
    const r = await rules('cilium-l7');
    new CiliumNetworkPolicy(r.docs[0] as never).validate();
    const egress = r.docs[0]!.spec['egress'] as CnpRule[];
    const graph = egress.find((e) => JSON.stringify(e.toFQDNs) === '[{"matchName":"graph.microsoft.com"}]')!;
    expect(graph.toPorts[0]!.terminatingTLS).toBeDefined();
    expect(graph.toPorts[0]!.rules!.http!.every((h) => h.host === 'graph.microsoft.com')).toBe(true);
    const okta = egress.filter((e) => JSON.stringify(e.toFQDNs ?? []).includes('okta'));
    expect(okta).toHaveLength(1);
    expect(okta[0]!.toPorts[0]!.rules).toBeUndefined();
  });

  // Envoy full-matches the regex against ":path", query included; ours must agree with explain.
  const policy = compilePolicy(loadPacks(), parseSiteConfig('site.yaml', SITE));
  it.each([
    ['GET', 'graph.microsoft.com', '/v1.0/users?$top=999&$select=id,displayName'],
    ['GET', 'graph.microsoft.com', '/beta/users/u1/photos/48x48/$value'],
    ['GET', 'graph.microsoft.com', '/v1.0/users/u1/drive'],
    ['POST', 'graph.microsoft.com', '/v1.0/users'],
    ['GET', 'graph.microsoft.com', '/v1.0/users/u1/manager/extra'],
    ['POST', 'login.microsoftonline.com', '/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token'],
    ['POST', 'login.microsoftonline.com', '/22222222-2222-3333-4444-555555555555/oauth2/v2.0/token'],
    ['GET', 'sso.example.org:8443', '/auth/admin/realms/staff/users?first=0&max=100'],
    ['GET', 'sso.example.org:8443', '/auth/admin/realms/master/users'],
  ])('%s %s%s: Cilium agrees with explain', async (method, authority, path) => {
    const r = await rules('cilium-l7');
    const host = authority.split(':')[0]!;
    const http = (r.docs[0]!.spec['egress'] as CnpRule[]).filter((e) => JSON.stringify(e.toFQDNs ?? []).includes(`"${host}"`)).flatMap((e) => e.toPorts[0]!.rules?.http ?? []);
    const full = (re: string, s: string) => new RegExp(`^(?:${re})$`).test(s);
    const cilium = http.some((h) => full(h.method, method) && full(h.path, path));
    expect(cilium).toBe(judge(policy, method, `https://${authority}${path}`).action === 'allow');
  });
});

describe('istio', () => {
  it('validates: a ServiceEntry per port (TLS, resolution NONE) and a REGISTRY_ONLY Sidecar', async () => {
    const r = await rules('istio', ['--namespace', 'confluence']);
    expect(r.docs.map((d) => [d.kind, d.metadata.name, d.metadata.namespace])).toEqual([
      ['ServiceEntry', 'idp-egress-providers', 'confluence'],
      ['ServiceEntry', 'idp-egress-providers-8443', 'confluence'],
      ['Sidecar', 'default', 'confluence'],
    ]);
    for (const d of r.docs) (d.kind === 'Sidecar' ? new Sidecar(d as never) : new ServiceEntry(d as never)).validate();
    expect(r.docs[0]!.spec['hosts']).toContain('*.okta.com');
    expect(r.docs[2]!.spec['outboundTrafficPolicy']).toEqual({ mode: 'REGISTRY_ONLY' });
  });
});

describe('k8s-networkpolicy', () => {
  it('validates, and lets the Atlassian pods reach DNS, the gateway port and their own namespace (idp-only)', async () => {
    const r = await rules('k8s-networkpolicy');
    expect(r.docs).toHaveLength(1);
    new NetworkPolicy(r.docs[0] as never).validate();
    const egress = r.docs[0]!.spec['egress'] as { to: { ipBlock?: { cidr: string }; podSelector?: { matchLabels?: Record<string, string> } }[]; ports?: { port: number }[] }[];
    // No addresses at all: the pods reach providers by name, through the gateway.
    expect(egress.flatMap((e) => e.to).filter((peer) => peer.ipBlock)).toEqual([]);
    expect(egress.map((e) => e.ports?.map((p) => p.port))).toEqual([[53, 53], [3128], undefined]);
    expect(egress[1]!.to).toEqual([{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'idp-egress' } } }]);
    // The database, cluster peers and Synchrony in the namespace keep working.
    expect(egress[2]!.to).toEqual([{ podSelector: {} }]);
    expect(r.out).toContain('# posture idp-only: the selected pods keep kube-dns, every pod of their own namespace');
  });

  it('under strict, cuts the namespace and keeps rules.reachable, and its header says what it cuts', async () => {
    const r = await cliIn(`${SITE}rules:\n  reachable: [10.20.0.0/16]\n`, ['rules', '--format', 'k8s-networkpolicy', '--posture', 'strict']);
    const doc = parseAllDocuments(r.out)[0]!.toJS() as { spec: { egress: { to: unknown[] }[] } };
    new NetworkPolicy(doc as never).validate();
    expect(doc.spec.egress.map((e) => e.to)).toEqual([
      [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
      [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'idp-egress' } } }],
      [{ ipBlock: { cidr: '10.20.0.0/16' } }],
    ]);
    expect(r.out).toContain('# posture strict: the selected pods reach only kube-dns, the gateway\'s port and rules.reachable (10.20.0.0/16); everything else is cut, other pods of their own namespace too');
  });
});
