import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { AddressInfo } from 'node:net';
import { resolveConfigPath, type LoadedConfig } from './config/load.js';
import { readReferencedFiles, type ReferencedFiles } from './config/files.js';
import { listenAddress, siteConfigSchema, type SiteConfig } from './config/schema.js';
import { ConfigError } from './core/errors.js';
import { compilePolicy, leafNames } from './policy/compile.js';
import type { Policy } from './policy/model.js';
import { configDigest, loadPolicy, type LoadPolicyOptions } from './policy/load.js';
import type { DestinationStream } from 'pino';
import { DashboardState } from './admin/dashboard-state.js';
import { AdminServer } from './admin/server.js';
import { hostname } from 'node:os';
import { basename } from 'node:path';
import { readFileSync } from 'node:fs';
import { AuditLog } from './audit/audit-log.js';
import type { AuditNotice } from './audit/notice.js';
import { SyslogDelivery, type SyslogOptions } from './audit/syslog.js';
import { SYSLOG_FACILITIES } from './core/syslog-facility.js';
import { PACKAGE_VERSION } from './core/package-root.js';
import { GatewayMetrics } from './audit/metrics.js';
import { OutcomeBatch } from './audit/outcome-batch.js';
import { TokenFingerprinter } from './audit/token-call.js';
import { rulesContext } from './rules/context.js';
import { needsAddresses, RULES_FORMATS, type RulesFormat } from './rules/formats.js';
import { RecentResolution, resolveForRules, RULES_RESOLVE_TTL_MS } from './rules/resolve.js';
import { gatewayForClients } from './rules/jvm.js';
import { ClientAccess } from './proxy/client-access.js';
import { OUTCOME_CHANNEL, type Outcome } from './audit/outcome.js';
import { Gateway } from './proxy/gateway.js';
import { openFilesLimit, planDescriptors } from './proxy/descriptors.js';
import { Upstream, upstreamRouting, type Resolver } from './proxy/upstream.js';
import { ensureCa, type Ca, type CaPaths } from './tls/ca.js';
import { LeafMinter } from './tls/leaf-minter.js';

export interface StartOptions extends LoadPolicyOptions {
  /** Where audit lines for stdout go; process stdout unless a test captures them. */
  readonly stdout?: { write(line: string): void };
  /** Where start-up notes go (the CLI passes stderr). */
  readonly note: (line: string) => void;
  /** DNS for provider hosts; the system resolver unless a test injects one. */
  readonly resolver?: Resolver;
  /** Overrides config.listen, e.g. 127.0.0.1:0 in tests. */
  readonly listen?: string;
  /** Overrides config.admin. */
  readonly admin?: string | false;
}

export interface RunningGateway {
  readonly address: AddressInfo;
  /** The admin listener's address, unless `admin: false`. */
  readonly adminAddress: AddressInfo | undefined;
  readonly ca: Ca;
  readonly caPaths: CaPaths;
  readonly gateway: Gateway;
  readonly audit: AuditLog;
  readonly metrics: GatewayMetrics;
  policy(): Policy;
  /** Re-reads config and packs; on any problem the old policy stays in force and the error is returned. */
  reload(): { ok: true; policy: Policy; restartNeeded: readonly string[] } | { ok: false; error: ConfigError };
  close(graceMs?: number): Promise<void>;
}

/** Who may use the proxy, from `clients` and `proxyAuth`: replaced on SIGHUP. */
function clientAccessOf(config: SiteConfig, files: ReferencedFiles): ClientAccess {
  const credentials = config.proxyAuth ? { username: config.proxyAuth.username, password: files.proxyPassword! } : undefined;
  return new ClientAccess(config.clients, credentials);
}

/**
 * Settings a reload cannot apply to a running gateway (its sockets, servers, upstream pools,
 * log destinations and CA are built at start), by their top-level key, when the new config
 * changes them. The policy, `mode`, `providers`, `clients`, `proxyAuth` and `explainDenials`
 * take effect at once.
 */
function settingsNeedingRestart(before: SiteConfig, after: SiteConfig, filesBefore: ReferencedFiles, filesAfter: ReferencedFiles): string[] {
  const keys = ['listen', 'admin', 'log', 'limits', 'upstream', 'ca'] as const;
  const changed: string[] = keys.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  if (!changed.includes('upstream') && filesBefore.upstreamCa !== filesAfter.upstreamCa) changed.push('upstream');
  if (!changed.includes('log') && JSON.stringify(filesBefore.syslogTls) !== JSON.stringify(filesAfter.syslogTls)) changed.push('log');
  return changed;
}

/**
 * What a lost connection may hold unread: this host's largest TCP send buffer and the
 * collector's receive buffer, taken as Linux's default maximum (6 MiB), plus what Node buffers.
 */
function defaultReplayWindow(): number {
  let sendMax = 4 << 20;
  try {
    sendMax = Number(readFileSync('/proc/sys/net/ipv4/tcp_wmem', 'utf8').trim().split(/\s+/)[2]) || sendMax;
  } catch {
    // not Linux: the Linux default
  }
  return sendMax + (6 << 20) + (128 << 10);
}

function syslogDeliveryOf(loaded: LoadedConfig, files: ReferencedFiles, metrics: GatewayMetrics, notify: (notice: AuditNotice) => void): SyslogDelivery | undefined {
  const s = loaded.config.log.syslog;
  if (!s) return undefined;
  // The gauges read the delivery built below; they are only read at a scrape.
  const counters = metrics.syslogMetrics(() => ({
    connected: delivery.isConnected,
    queued: delivery.queuedInMemory,
    spooledEvents: delivery.spooledEvents,
    spooledBytes: delivery.spooledBytes,
    downSeconds: delivery.downForMs() / 1000,
  }));
  const options: SyslogOptions = {
    host: s.target.host,
    port: s.target.port,
    transport: s.transport,
    tls: { ...files.syslogTls, serverName: s.tls.serverName },
    identity: { format: s.format, facility: SYSLOG_FACILITIES[s.facility], hostname: s.hostname ?? hostname(), procId: String(process.pid), enterpriseNumber: s.enterpriseNumber, version: PACKAGE_VERSION },
    queue: { memoryEvents: s.queue.memory, directory: resolveConfigPath(loaded, s.queue.directory), maxDiskBytes: s.queue.maxDisk },
    replayWindowBytes: s.replayWindow ?? defaultReplayWindow(),
    connectTimeoutMs: loaded.config.upstream.timeouts.connect,
    backoff: { minMs: 500, maxMs: 30_000 },
  };
  const delivery = new SyslogDelivery(options, counters, notify);
  return delivery;
}

export function caPathsOf(loaded: LoadedConfig): CaPaths {
  return { cert: resolveConfigPath(loaded, loaded.config.ca.cert), key: resolveConfigPath(loaded, loaded.config.ca.key) };
}

/** Loads everything, creates the CA on first start, and listens. */
export async function startGateway(options: StartOptions): Promise<RunningGateway> {
  const loaded = loadPolicy(options);
  const startFiles = readReferencedFiles(loaded.config);
  /** Config and packs in force; SIGHUP replaces it (listener, upstream and CA settings need a restart). */
  let live = loaded;
  const config = loaded.config.config;
  const caPaths = caPathsOf(loaded.config);
  const { ca, created } = await ensureCa(caPaths);
  if (created) {
    options.note(`created the interception CA: ${caPaths.cert} (key ${caPaths.key}, mode 0600)`);
    options.note('the Atlassian server must trust it: run `idp-egress jvm` for the keytool command and JVM flags');
  }
  // The gauges read the gateway, minter and batch declared below; they are only read at a scrape.
  const openFiles = openFilesLimit(readProcLimits());
  const descriptors = planDescriptors(openFiles, { maxConnections: config.limits.maxConnections, maxConnectionsPerClient: config.limits.maxConnectionsPerClient });
  const metrics = new GatewayMetrics(
    {
      activeConnections: () => gateway.connectionCount,
      activeRequests: () => gateway.activeRequests,
      leafCacheSize: () => minter.size,
      evictedConnections: () => gateway.evictedConnections,
      heldConnections: () => gateway.heldConnections,
      connectionLimit: descriptors.limits.maxConnections,
      unwritableAudit: () => audit.unwritable.length,
      flushOutcomes: () => outcomes.flush(),
      enabledEndpoints: () => endpointsPerProvider(live.policy),
      caNotAfter: Date.parse(ca.cert.validTo) / 1000,
      version: PACKAGE_VERSION,
    },
    configDigest(loaded),
  );
  const minter = await LeafMinter.create(ca, { onMint: () => metrics.mints.inc() });
  minter.prepare(leafNames(live.policy));
  // The collector's own notices (gone, back) go to the audit, which forwards them too once it can.
  const syslog = syslogDeliveryOf(loaded.config, startFiles, metrics, (n) => audit.logger[n.level](n.fields, n.msg));
  const audit = AuditLog.open({
    forward: syslog,
    stdout: config.log.stdout,
    file: config.log.file ? resolveConfigPath(loaded.config, config.log.file) : undefined,
    level: config.log.level,
    rotate: config.log.rotate,
    onSummarised: (code) => metrics.summarised.inc({ code }),
    onWritten: (lines) => metrics.auditLines.inc(lines),
    // Said on stderr, which the service manager keeps, and in the audit itself: a failing file
    // gets the line when it can be written again, in order, and stdout and the collector at once.
    onWriterNotice: (n) => {
      options.note(n.msg);
      audit.logger[n.level](n.fields, n.msg);
    },
    onDroppedLines: (lines) => metrics.auditDroppedLines.inc(lines),
    ...(options.stdout ? { stdoutStream: options.stdout as DestinationStream } : {}),
  });
  syslog?.start();
  const adminSetting = options.admin ?? config.admin;
  // Every shipped pack on and unbound, to say what would allow a denial: compiled when a page
  // first asks, not at start, and again after a reload only if one asks again.
  let reference: Policy | undefined;
  const referencePolicy = () => (reference ??= compilePolicy(live.packs, siteConfigSchema.parse({})));
  // The dashboard lives on the admin listener: without one, nothing keeps its state.
  const dashboard = adminSetting === false ? undefined : new DashboardState({ loaded: () => live, reference: referencePolicy, caNotAfter: Date.parse(ca.cert.validTo) / 1000, leafCache: () => minter.size, unwritableAudit: () => audit.unwritable, heldConnections: () => gateway.heldConnections, connectionLimits: { limit: descriptors.limits.maxConnections, configured: config.limits.maxConnections, openFilesLimit: openFiles } });
  let dashboardToken = startFiles.dashboardToken;
  const outcomes = new OutcomeBatch(dashboard ? [audit, metrics, dashboard] : [audit, metrics]);
  const onOutcome = (o: unknown) => outcomes.add(o as Outcome);
  subscribe(OUTCOME_CHANNEL.name, onOutcome);
  // An uncaught exception or process.exit() still writes what was pending (close() does the same).
  const onExit = () => {
    outcomes.flush();
    audit.flushSync();
    syslog?.spoolSync();
  };
  process.on('exit', onExit);
  const upstream = new Upstream({
    ...upstreamRouting(config),
    extraCa: startFiles.upstreamCa,
    parentProxy: config.upstream.proxy,
    timeouts: { ...config.upstream.timeouts, sending: config.limits.requestBodyTimeout, paused: config.limits.idleTimeout },
    ...(options.resolver ? { resolver: options.resolver } : {}),
  });
  let access = clientAccessOf(config, startFiles);
  if (descriptors.note) {
    options.note(descriptors.note);
    audit.logger.warn({ maxConnections: descriptors.limits.maxConnections, maxConnectionsPerClient: descriptors.limits.maxConnectionsPerClient, maxLingering: descriptors.limits.maxLingering }, descriptors.note);
  }
  const gateway = new Gateway({
    policy: () => live.policy,
    upstream,
    minter,
    access: () => access,
    explainDenials: () => live.config.config.explainDenials,
    limits: { ...config.limits, ...descriptors.limits },
    maxTokenBodyBytes: config.limits.maxTokenBodyBytes,
    fingerprints: new TokenFingerprinter(),
    recordHeaderNames: config.log.level === 'debug',
  });
  const listen = options.listen === undefined ? config.listen : listenAddress.parse(options.listen);
  const address = await gateway.listen(listen.host, listen.port);
  let admin: AdminServer | undefined;
  let adminAddress: AddressInfo | undefined;
  if (dashboard && adminSetting !== false) {
    const recentAddresses = new RecentResolution(RULES_RESOLVE_TTL_MS);
    admin = new AdminServer({
      metrics,
      caPem: () => ca.certPem,
      rules: async (name) => {
        if (!(name in RULES_FORMATS)) return undefined;
        const format = name as RulesFormat;
        // Rendered from the policy in force, so a reload changes what firewalls fetch next.
        const policy = live;
        const ctx = rulesContext(policy);
        const resolved = needsAddresses([format]) ? await recentAddresses.get(policy, () => resolveForRules(ctx.hosts, policy.config.config, options.resolver)) : undefined;
        // As clients are told to reach the gateway (a 0.0.0.0 listener is no address to dial).
        const reach = gatewayForClients({ host: address.address, port: address.port });
        return RULES_FORMATS[format].render(ctx, { proxy: `${reach.host}:${reach.port}`, resolved });
      },
      checks: () => ({
        policy: live.policy.endpoints.length > 0,
        ca: Date.parse(ca.cert.validTo) > Date.now(),
        listener: gateway.listening,
        audit: audit.unwritable.length === 0,
        ...(syslog && config.log.syslog?.readyAfterDown !== undefined ? { syslog: syslog.downForMs() < config.log.syslog.readyAfterDown } : {}),
      }),
      // Outcomes still waiting for their batch first, as a scrape does: the page shows every finished call.
      dashboard: { snapshot: () => (outcomes.flush(), dashboard.snapshot()), token: () => dashboardToken },
    });
    const hp = typeof adminSetting === 'string' ? listenAddress.parse(adminSetting) : adminSetting;
    adminAddress = await admin.listen(hp.host, hp.port);
  }
  return {
    address,
    adminAddress,
    ca,
    caPaths,
    gateway,
    metrics,
    policy: () => live.policy,
    audit,
    reload() {
      // Events judged by the old policy go out before the line that says it changed.
      outcomes.flush();
      try {
        const next = loadPolicy(options);
        const nextFiles = readReferencedFiles(next.config);
        // Against what the gateway started with: those settings are still the ones in force.
        const restartNeeded = settingsNeedingRestart(config, next.config.config, startFiles, nextFiles);
        live = next;
        access = clientAccessOf(live.config.config, nextFiles);
        dashboardToken = nextFiles.dashboardToken;
        reference = undefined;
        minter.prepare(leafNames(live.policy));
        metrics.configLoaded(true, configDigest(live), true);
        dashboard?.reloaded(true, `${live.policy.endpoints.length} endpoints, config digest ${configDigest(live)}${restartNeeded.length > 0 ? `; needs a restart for ${restartNeeded.join(', ')}` : ''}`);
        audit.logger.info({ endpoints: live.policy.endpoints.length, ...(restartNeeded.length > 0 ? { restartNeeded } : {}) }, 'policy reloaded');
        return { ok: true, policy: live.policy, restartNeeded };
      } catch (err) {
        if (err instanceof ConfigError) {
          metrics.configLoaded(false, undefined, true);
          dashboard?.reloaded(false, `${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}, first: ${err.problems[0] ? `${basename(err.problems[0].file)}:${err.problems[0].line}:${err.problems[0].col} ${err.problems[0].message}` : ''}`);
          audit.logger.error({ problems: err.problems.map((p) => `${p.file}:${p.line}:${p.col} ${p.path} ${p.message}`) }, 'reload refused: the configuration is invalid');
          return { ok: false, error: err };
        }
        throw err;
      }
    },
    async close(graceMs = config.limits.shutdownGrace) {
      const deadline = Date.now() + graceMs;
      await admin?.close();
      await gateway.close(graceMs);
      await upstream.close();
      unsubscribe(OUTCOME_CHANNEL.name, onOutcome);
      outcomes.flush();
      process.off('exit', onExit);
      // The collector gets what is left of the grace, at least a second; the rest is spooled.
      await audit.close(Math.max(1000, deadline - Date.now()));
    },
  };
}

function endpointsPerProvider(policy: Policy): Map<string, number> {
  const out = new Map<string, number>(policy.providers.filter((p) => p.enabled).map((p) => [p.provider, 0]));
  for (const e of policy.endpoints) out.set(e.provider, (out.get(e.provider) ?? 0) + 1);
  return out;
}

/** /proc/self/limits, where Linux says the process's resource limits; empty elsewhere. */
function readProcLimits(): string {
  try {
    return readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return '';
  }
}
