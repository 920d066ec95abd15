import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { rootCertificates } from 'node:tls';
import { redactUrl } from '../core/redact.js';
import { resolveConfigPath } from '../config/load.js';
import { proxyAuthorizationOf } from '../config/proxy-url.js';
import type { LoadedPolicy } from '../policy/load.js';
import { probeTargets } from '../probe/plan.js';
import { renderProbeJson, renderProbeTable } from '../probe/render.js';
import { probeAll, probeTrust, type ProxyHop } from '../probe/run.js';
import { systemResolver, upstreamRouting, type Resolver } from '../proxy/upstream.js';
import { PACKAGE_VERSION } from '../core/package-root.js';
import { caPathsOf } from '../serve.js';
import { EXIT, providerProblem, type CliIo } from './io.js';

export interface ProbeOptions {
  readonly provider?: string | undefined;
  /** http://[user:password@]host:port: probe through this proxy (the gateway, or a corporate one). */
  readonly via?: string | undefined;
  readonly json?: boolean | undefined;
  /** Bound of each step, in milliseconds. */
  readonly timeout?: string | undefined;
  /** More CA files to trust (a TLS-inspecting corporate proxy's). */
  readonly ca?: readonly string[] | undefined;
  /** DNS; the system resolver (as the gateway uses it) unless a test points it elsewhere. */
  readonly resolver?: Resolver;
}

function parseVia(text: string): ProxyHop | string {
  // The URL may carry the proxy's password: an error quotes it with the credentials redacted.
  const shown = JSON.stringify(redactUrl(text));
  const url = URL.parse(text);
  if (!url) return `--via ${shown} is not a URL; write http://host:port`;
  if (url.protocol !== 'http:') return `--via ${shown}: only http:// proxies are supported (the CONNECT goes in clear text to the proxy, as the JVM sends it)`;
  if (url.pathname !== '/' || url.search || url.hash) return `--via ${shown}: a proxy URL has no path; write http://host:port`;
  const credentials = proxyAuthorizationOf(url);
  if (!credentials.ok) return `--via ${shown}: ${credentials.problem}`;
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port ? Number(url.port) : 80, authorization: credentials.header, display: `http://${url.host}` };
}

/**
 * `idp-egress probe`: DNS, TCP, TLS with full verification and one harmless HTTP request to
 * every provider host, directly or through a proxy, with the exact failure and a fix for each.
 */
export async function runProbe(loaded: LoadedPolicy, options: ProbeOptions, io: CliIo): Promise<number> {
  const policy = loaded.policy;
  const notEnabled = providerProblem(policy, options.provider);
  if (notEnabled) {
    io.err(notEnabled);
    return EXIT.ERROR;
  }
  const timeoutMs = options.timeout === undefined ? 5_000 : Number(options.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    io.err(`idp-egress: --timeout ${JSON.stringify(options.timeout)} is not a number of milliseconds; e.g. --timeout 5000\n`);
    return EXIT.ERROR;
  }
  const config = loaded.config.config;
  // Without --via, the path the gateway itself takes: through its parent proxy when it has one.
  const viaText = options.via ?? config.upstream.proxy;
  const via = viaText === undefined ? undefined : parseVia(viaText);
  if (typeof via === 'string') {
    io.err(`idp-egress: ${options.via === undefined ? via.replace('--via', 'upstream.proxy') : via}\n`);
    return EXIT.ERROR;
  }
  const caFiles = [
    ...(config.upstream.ca ? [resolveConfigPath(loaded.config, config.upstream.ca)] : []),
    // Through the gateway, the certificates inside the tunnel are minted by its CA.
    ...(options.via !== undefined && existsSync(caPathsOf(loaded.config).cert) ? [caPathsOf(loaded.config).cert] : []),
    ...(options.ca ?? []).map((f) => resolve(io.cwd, f)),
  ];
  const trusted = [...rootCertificates];
  for (const file of caFiles) {
    try {
      trusted.push(readFileSync(file, 'utf8'));
    } catch (err) {
      io.err(`idp-egress: cannot read the CA file ${file}: ${(err as Error).message}\n`);
      return EXIT.ERROR;
    }
  }
  const results = await probeAll(probeTargets(policy, options.provider), {
    ...upstreamRouting(config),
    trust: probeTrust(trusted),
    resolver: options.resolver ?? systemResolver,
    stepTimeoutMs: timeoutMs,
    via,
    userAgent: `idp-egress-probe/${PACKAGE_VERSION}`,
  });
  const through = via && options.via === undefined ? `${via.display} (upstream.proxy)` : via?.display;
  io.out(options.json ? renderProbeJson(results, through) : renderProbeTable(results, through));
  return results.some((r) => r.verdict === 'fail') ? EXIT.PROBE_FAILED : EXIT.OK;
}
