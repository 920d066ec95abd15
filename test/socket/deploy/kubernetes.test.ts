import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'undici';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseSiteConfig } from '../../../src/config/load.js';
import { GATEWAY_LABELS } from '../../../src/rules/kubernetes.js';
import { startGateway } from '../../../src/serve.js';
import { uncommented } from '../../support/policy.js';

const DIR = new URL('../../../deploy/kubernetes/', import.meta.url).pathname;
const MODELS = { ConfigMap, Service, Deployment, NetworkPolicy, PodDisruptionBudget } as Record<string, new (doc: never) => { validate(): void }>;

interface Manifest {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

const kustomization = parse(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[]; secretGenerator: { name: string; files: string[] }[] };
const manifests = kustomization.resources.flatMap((file) => parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => d.toJS() as Manifest));
const one = (kind: string) => manifests.find((m) => m.kind === kind)!;

interface PodSpec {
  securityContext: { runAsNonRoot: boolean; runAsUser: number };
  terminationGracePeriodSeconds: number;
  containers: {
    args: string[];
    ports: { name: string; containerPort: number }[];
    readinessProbe: { httpGet: { path: string; port: string } };
    livenessProbe: { httpGet: { path: string; port: string } };
    resources: { requests: Record<string, string>; limits: Record<string, string> };
    securityContext: { allowPrivilegeEscalation: boolean; readOnlyRootFilesystem: boolean; capabilities: { drop: string[] } };
    volumeMounts: { name: string; mountPath: string }[];
  }[];
  volumes: { name: string; configMap?: { name: string }; secret?: { secretName: string } }[];
}

describe('deploy/kubernetes', () => {
  it('lists every manifest in the folder, and each validates against the Kubernetes API schema', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect(kustomization.resources.sort()).toEqual(files.sort());
    expect(manifests.map((m) => m.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'NetworkPolicy', 'PodDisruptionBudget', 'Service']);
    for (const m of manifests) new MODELS[m.kind]!(m as never).validate();
  });

  it('the schema check itself rejects a wrong type', () => {
    const broken = structuredClone(one('Deployment')) as Manifest & { spec: { replicas: unknown } };
    broken.spec.replicas = 'two';
    expect(() => new Deployment(broken as never).validate()).toThrow(/replicas/);
  });

  const deployment = one('Deployment') as Manifest & { spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } } };
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0]!;
  const siteText = one('ConfigMap').data!['idp-egress.yaml']!;
  const site = parseSiteConfig('configmap.yaml#idp-egress.yaml', siteText);

  it('runs 2+ replicas, non-root, read-only, with requests and limits, and time to drain on SIGTERM', () => {
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(Object.keys(container.resources.requests).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(container.resources.limits).sort()).toEqual(['cpu', 'memory']);
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(site.limits.shutdownGrace);
  });

  it('agrees with its own config: ports, probe paths, the config mount and the CA from the Secret', () => {
    const ports = Object.fromEntries(container.ports.map((p) => [p.name, p.containerPort]));
    expect(ports['proxy']).toBe(site.listen.port);
    expect(site.admin).not.toBe(false);
    expect(ports['admin']).toBe(site.admin !== false && site.admin.port);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'admin' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'admin' });
    const mount = (name: string) => container.volumeMounts.find((v) => v.name === name)!.mountPath;
    expect(container.args).toEqual(['serve', '--config', `${mount('config')}/idp-egress.yaml`]);
    expect(pod.volumes.find((v) => v.name === 'config')!.configMap!.name).toBe(one('ConfigMap').metadata.name);
    expect(pod.volumes.find((v) => v.name === 'ca')!.secret!.secretName).toBe(kustomization.secretGenerator[0]!.name);
    expect(kustomization.secretGenerator[0]!.files.map((f) => `${mount('ca')}/${f}`).sort()).toEqual([site.ca.cert, site.ca.key].sort());
  });

  it('selects the same pods everywhere: Service, PodDisruptionBudget, NetworkPolicy, and the generated k8s-networkpolicy', () => {
    const labels = deployment.spec.template.metadata.labels;
    // `idp-egress rules --format k8s-networkpolicy` lets the Atlassian pods reach these pods.
    expect(labels).toEqual(GATEWAY_LABELS);
    expect(deployment.spec.selector.matchLabels).toEqual(labels);
    expect((one('Service').spec as { selector: Record<string, string> }).selector).toEqual(labels);
    expect((one('PodDisruptionBudget').spec as { selector: { matchLabels: Record<string, string> }; minAvailable: number }).selector.matchLabels).toEqual(labels);
    expect((one('PodDisruptionBudget').spec as { minAvailable: number }).minAvailable).toBeLessThan(deployment.spec.replicas);
    const np = one('NetworkPolicy').spec as { podSelector: { matchLabels: Record<string, string> }; ingress: { ports: { port: number }[] }[] };
    expect(np.podSelector.matchLabels).toEqual(labels);
    expect(np.ingress.flatMap((i) => i.ports.map((p) => p.port)).sort()).toEqual([3128, 9090]);
  });

  it('ships the dashboard token commented out: switched on, it names the file the Deployment mounts from its optional Secret', () => {
    expect(site.dashboard.tokenFile).toBeUndefined();
    const tokenFile = parseSiteConfig('configmap.yaml#idp-egress.yaml', uncommented(siteText)).dashboard.tokenFile!;
    const mount = container.volumeMounts.find((v) => v.name === 'dashboard-token')!.mountPath;
    expect(tokenFile).toBe(`${mount}/token`);
    const volumes = pod.volumes as { name: string; secret?: { secretName: string; optional?: boolean } }[];
    expect(volumes.find((v) => v.name === 'dashboard-token')!.secret).toMatchObject({ secretName: 'idp-egress-dashboard', optional: true });
  });

  it('ships SIEM delivery commented out: switched on it validates, with the CA and the spool on the Deployment\'s volumes', () => {
    expect(site.log.syslog).toBeUndefined();
    const syslog = parseSiteConfig('configmap.yaml#idp-egress.yaml', uncommented(siteText)).log.syslog!;
    expect(syslog.transport).toBe('tls');
    const mount = (name: string) => container.volumeMounts.find((v) => v.name === name)!.mountPath;
    expect(syslog.tls.ca).toBe(`${mount('siem-ca')}/ca.pem`);
    expect(syslog.queue.directory).toBe(mount('spool'));
    const volumes = pod.volumes as { name: string; secret?: { secretName: string; optional?: boolean }; emptyDir?: { sizeLimit: string } }[];
    // Optional: without the Secret the pod still starts, with syslog off.
    expect(volumes.find((v) => v.name === 'siem-ca')!.secret).toMatchObject({ secretName: 'idp-egress-siem-ca', optional: true });
    // Room for the spool's bound.
    expect(parseInt(volumes.find((v) => v.name === 'spool')!.emptyDir!.sizeLimit, 10) * 1024 ** 2).toBeGreaterThan(syslog.queue.maxDisk);
  });

  it('its config starts a gateway whose probes answer 200 on the paths the Deployment names', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8s-config-'));
    const configFile = join(dir, 'idp-egress.yaml');
    // Same config, with the CA on a scratch folder instead of the Secret's mount.
    writeFileSync(configFile, siteText.replace('/app/certs/ca.pem', join(dir, 'ca.pem')).replace('/app/certs/ca-key.pem', join(dir, 'ca-key.pem')));
    const running = await startGateway({ configFile, cwd: dir, listen: '127.0.0.1:0', admin: '127.0.0.1:0', note: () => undefined });
    try {
      for (const path of [container.readinessProbe.httpGet.path, container.livenessProbe.httpGet.path]) {
        const res = await request(`http://127.0.0.1:${running.adminAddress!.port}${path}`);
        expect(res.statusCode, path).toBe(200);
        await res.body.dump();
      }
    } finally {
      await running.close();
    }
  });
});
