import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProxyAgent, request } from 'undici';
import type { Resolver } from '../../src/proxy/upstream.js';
import { startGateway, type RunningGateway } from '../../src/serve.js';
import { FakeProvider } from './fake-provider.js';
import { BOUND_SITE } from './policy.js';
import { testCa } from './pki.js';

export const PROVIDER_HOSTS = [
  'login.microsoftonline.com',
  'graph.microsoft.com',
  'accounts.google.com',
  'www.googleapis.com',
  'oauth2.googleapis.com',
  'admin.googleapis.com',
  'acme.okta.com',
  // A second Okta org: one site may leave the org unbound, and both share the *.okta.com leaf.
  'beta.okta.com',
  'sso.example.org',
  'acme.onelogin.com',
  // Not a provider: a host the Atlassian server also calls, which only observe mode lets through.
  'marketplace.atlassian.com',
] as const;

/** The harness's default site: every provider bound, as a production config would be. */
export const SITE = BOUND_SITE;

export interface Harness {
  readonly run: RunningGateway;
  readonly provider: FakeProvider;
  readonly proxyUrl: string;
  readonly dir: string;
  readonly configFile: string;
  /** The gateway's interception CA, which clients trust. */
  readonly gatewayCaPem: string;
  /** The fake provider's CA, for clients that talk TLS with the provider through a tunnel. */
  readonly providerCaPem: string;
  readonly notes: string[];
  agent(options?: Partial<ProxyAgent.Options>): ProxyAgent;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly site?: string;
  /** Appended to the config (YAML, top level). */
  readonly extra?: string;
  /** Hosts that may resolve to the loopback fake; default every provider host. */
  readonly allowPrivate?: readonly string[];
  /** Whether the gateway trusts the fake provider's CA (upstream.ca); default true. */
  readonly trustProvider?: boolean;
  readonly timeouts?: string;
  readonly resolver?: Resolver;
  /** upstream.proxy: a parent proxy URL. */
  readonly parentProxy?: string;
  /** The config's log block (YAML); default: no stdout lines, so test output stays readable. */
  readonly log?: string;
  /** Captures what the audit log writes to stdout. */
  readonly stdout?: { write(line: string): void };
  /** Files written beside the config before the gateway starts (a token file, a password file). */
  readonly files?: Readonly<Record<string, string>>;
}

/** A real gateway in this process, in front of one fake provider server on 127.0.0.1 that answers for every provider host. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const providerCa = await testCa();
  const provider = await FakeProvider.start(providerCa.ca, PROVIDER_HOSTS);
  const dir = mkdtempSync(join(tmpdir(), 'idp-egress-gw-'));
  const configFile = join(dir, 'idp-egress.yaml');
  writeFileSync(configFile, harnessConfig(provider.port, providerCa.certFile, options));
  for (const [name, text] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), text);
  const notes: string[] = [];
  const run = await startGateway({
    configFile,
    cwd: dir,
    note: (l) => notes.push(l),
    ...(options.resolver ? { resolver: options.resolver } : {}),
    ...(options.stdout ? { stdout: options.stdout } : {}),
  });
  const proxyUrl = `http://127.0.0.1:${run.address.port}`;
  const agents: ProxyAgent[] = [];
  return {
    run,
    provider,
    proxyUrl,
    dir,
    configFile,
    gatewayCaPem: run.ca.certPem,
    providerCaPem: providerCa.ca.certPem,
    notes,
    agent(agentOptions = {}) {
      const a = new ProxyAgent({ uri: proxyUrl, requestTls: { ca: run.ca.certPem }, ...agentOptions });
      agents.push(a);
      return a;
    },
    async close() {
      await Promise.all(agents.map((a) => a.close()));
      await run.close(500);
      await provider.close();
    },
  };
}

/** Runs `use` against a fresh harness and closes it afterwards, whether `use` passed or threw. */
export async function withHarness<T>(options: HarnessOptions, use: (h: Harness) => Promise<T>): Promise<T> {
  const h = await startHarness(options);
  try {
    return await use(h);
  } finally {
    await h.close();
  }
}

/** The config a harness runs with: provider hosts routed to the fake, which the gateway trusts. */
export function harnessConfig(providerPort: number, providerCaFile: string, options: HarnessOptions = {}): string {
  const resolve = PROVIDER_HOSTS.map((h) => `    ${h}: 127.0.0.1:${providerPort}`).join('\n');
  return `${options.site ?? SITE}
listen: 127.0.0.1:0
admin: 127.0.0.1:0
upstream:
${options.trustProvider === false ? '' : `  ca: ${providerCaFile}\n`}${options.parentProxy ? `  proxy: ${options.parentProxy}\n` : ''}  resolve:
${resolve}
  allowPrivate: [${(options.allowPrivate ?? PROVIDER_HOSTS).join(', ')}]
  timeouts:
${options.timeouts ?? '    connect: 2s\n    headers: 2s\n    body: 2s'}
${options.log ?? 'log:\n  stdout: false'}
${options.extra ?? ''}
`;
}

/** GET (or another method) through the gateway with undici's ProxyAgent; the body as text. */
export async function viaProxy(h: Harness, url: string, init: { method?: string; headers?: Record<string, string>; body?: string; agent?: ProxyAgent } = {}) {
  const res = await request(url, {
    dispatcher: init.agent ?? h.agent(),
    method: (init.method ?? 'GET') as 'GET',
    ...(init.headers ? { headers: init.headers } : {}),
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}
