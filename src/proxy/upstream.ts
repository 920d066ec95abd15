import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { LRUCache } from 'lru-cache';
import { Agent, buildConnector, Client, ProxyAgent, type Dispatcher } from 'undici';
import type { SiteConfig } from '../config/schema.js';
import type { GatewayCode } from '../core/errors.js';
import { ruleHost } from '../core/host.js';
import { refusedAddress, refusedAnswer } from './addresses.js';
import { proxyAuthorizationOf } from '../config/proxy-url.js';
import type { ProviderToClient } from './tunnel-relay.js';
import { UpstreamDeadlines } from './upstream-deadlines.js';
import { UpstreamShares } from './upstream-shares.js';

/**
 * Provider origins the gateway keeps pools for at once. An unbound wildcard (*.okta.com) lets
 * clients name any number of hosts; undici drops idle pools itself, this bounds the busy ones.
 */
const MAX_ORIGINS = 1024;

/** Resolves a host name to every address it has (the `dns.lookup(host, {all: true})` contract). */
export type Resolver = (host: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (host) =>
  new Promise((resolve, reject) => dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

/**
 * upstream.resolve and upstream.allowPrivate as every dial applies them, host names in rule form
 * (lower case, no trailing dot): the gateway, `probe` and the IP-based rules all read these.
 */
export function upstreamRouting(config: SiteConfig): Pick<UpstreamOptions, 'resolve' | 'allowPrivate'> {
  const resolve = new Map<string, { address: string; port: number }>();
  for (const [host, target] of Object.entries(config.upstream.resolve)) {
    resolve.set(ruleHost(host), { address: target.host, port: target.port });
  }
  return { resolve, allowPrivate: new Set(config.upstream.allowPrivate.map(ruleHost)) };
}

export interface UpstreamOptions {
  /** Static host -> address:port overrides. */
  readonly resolve: ReadonlyMap<string, { readonly address: string; readonly port: number }>;
  /** Hosts that may resolve to private, loopback, link-local or CGNAT addresses. */
  readonly allowPrivate: ReadonlySet<string>;
  /** Extra trusted CA certificates (PEM), added to the system roots. */
  readonly extraCa?: string | undefined;
  /** Parent proxy URL (http://host:port). */
  readonly parentProxy?: string | undefined;
  /** Milliseconds, 0 for none; all but the dial's own connect timeout are kept by the deadlines' sweep. */
  readonly timeouts: { readonly connect: number; readonly headers: number; readonly body: number; readonly total?: number; readonly sending?: number; readonly paused?: number };
  readonly resolver?: Resolver;
  /** How long a connection dialled ahead (prewarm) waits for its first request; default 5 s. */
  readonly warmTtlMs?: number;
}

/** At most this many connections dialled ahead and not yet used, so CONNECTs cannot pile them up. */
export const MAX_WARM = 64;
/** Keep-alive connections per provider origin; requests beyond them queue for one to come free. */
export const POOL_CONNECTIONS = 128;
/**
 * Exchanges one client address may have with one provider origin at once: half the pool, so one
 * client cannot hold all of it (upstream-shares.ts), and still the 64 that the anchors harness's
 * heaviest load sends from its one address.
 */
export const CLIENT_SHARE = POOL_CONNECTIONS / 2;

type Connector = (opts: buildConnector.Options, callback: buildConnector.Callback) => void;
type Dialled = { readonly socket: Socket } | { readonly error: Error };

/** How a forwarded exchange can fail: the upstream hop, or the client's side cut short. */
export type ExchangeCode = GatewayCode | 'MALFORMED_REQUEST';

/**
 * An error a forwarded exchange ends with, recognised by its code like undici's: one the upstream
 * hop raises itself, or the client's side cut short (CLIENT_CLOSED, a body late or refused).
 */
export class ExchangeError extends Error {
  constructor(
    readonly code: ExchangeCode,
    message: string,
  ) {
    super(message);
    this.name = 'ExchangeError';
  }
}

/**
 * The hop from the gateway to the provider. Every connection goes to an address that was
 * resolved and vetted in the same step (no time-of-check/time-of-use gap, so no DNS rebinding),
 * and keep-alive reuse stays on that address.
 */
export class Upstream {
  readonly dispatcher: Dispatcher;
  /** Every forwarded exchange's timeouts: the wait for a connection, headers, body, total; undici's own are off (0). */
  readonly deadlines: UpstreamDeadlines;
  /** Each client's share of each provider's pool (through a parent proxy as well). */
  readonly shares = new UpstreamShares(CLIENT_SHARE);
  private readonly resolver: Resolver;
  /** The address last vetted for each host, for the audit; bounded, since unbound wildcards allow endless names. */
  private readonly lastAddress = new LRUCache<string, string>({ max: MAX_ORIGINS });
  /**
   * Built once: handing `ca` to tls.connect would build a new context per connection, parsing
   * every root certificate each time (~30 ms per new upstream connection, measured by the bench).
   */
  private readonly tlsContext: { secureContext: SecureContext } | Record<string, never>;
  /** Connections dialled ahead of their first request, by "host:port" as clients name them. */
  private readonly warm = new Map<string, { readonly dialled: Promise<Dialled>; readonly timer: NodeJS.Timeout }>();
  private readonly dial: Connector | undefined;

  constructor(private readonly options: UpstreamOptions) {
    this.resolver = options.resolver ?? systemResolver;
    this.deadlines = new UpstreamDeadlines(options.timeouts);
    this.tlsContext = options.extraCa ? { secureContext: createSecureContext({ ca: [...rootCertificates, options.extraCa] }) } : {};
    const vetted = this.vettedLookup.bind(this);
    if (options.parentProxy) {
      // The parent resolves the target itself; the gateway vets its own resolution first
      // (in resolveVetted, before dispatch) and accepts that the parent re-resolves.
      this.dispatcher = new ProxyAgent({
        uri: options.parentProxy,
        requestTls: { ...this.tlsContext, timeout: options.timeouts.connect },
        headersTimeout: 0,
        bodyTimeout: 0,
        // As for the direct dial below: offer the provider HTTP/1.1 only.
        allowH2: false,
      });
    } else {
      // allowH2: false here, not only on the Agent: the connector writes the ALPN offer, and undici
      // 8's offers h2 by default; a provider that picks it hands the pool an HTTP/2 session whose
      // responses carry no raw header list, and forward() streams HTTP/1.1 headers as received.
      const base = buildConnector({ ...this.tlsContext, lookup: vetted, timeout: options.timeouts.connect, allowH2: false } as buildConnector.BuildOptions);
      const dial: Connector = (opts, callback) => {
        // net.connect skips `lookup` for IP literals, so they are vetted here instead.
        const literalProblem = isIP(opts.hostname) ? refusedAddress(opts.hostname, this.options.allowPrivate.has(opts.hostname)) : undefined;
        if (literalProblem) {
          callback(new ExchangeError('PRIVATE_ADDRESS', literalProblem), null);
          return;
        }
        const override = this.options.resolve.get(opts.hostname);
        base(override ? { ...opts, port: String(override.port) } : opts, callback);
      };
      this.dial = dial;
      this.dispatcher = new Agent({
        connect: (opts, callback) => {
          const ahead = this.takeWarm(`${opts.hostname}:${opts.port || '443'}`);
          if (!ahead) return void dial(opts, callback);
          ahead.then((d) => {
            if ('error' in d) callback(d.error, null);
            else if (d.socket.destroyed || d.socket.readyState !== 'open') dial(opts, callback);
            else callback(null, d.socket);
          });
        },
        headersTimeout: 0,
        bodyTimeout: 0,
        keepAliveTimeout: 4_000,
        connections: POOL_CONNECTIONS,
        maxOrigins: MAX_ORIGINS,
        pipelining: 1,
        allowH2: false,
      });
    }
  }

  /**
   * Dials host:port now, through the same vetted connector, so that the first request of a new
   * intercepted tunnel finds its provider connection open: the dial overlaps the leaf mint and the
   * client's TLS handshake instead of following them. Only for hosts not dialled before (their
   * pool may hold a connection already); unused connections close after warmTtlMs. A failed dial
   * is handed to that first request as its error, so it is not dialled twice.
   */
  prewarm(host: string, port: number): void {
    const key = `${host}:${port}`;
    if (!this.dial || this.lastAddress.has(host) || this.warm.has(key) || this.warm.size >= MAX_WARM) return;
    const dial = this.dial;
    const dialled = new Promise<Dialled>((resolve) =>
      dial({ hostname: host, host, protocol: 'https:', port: String(port), servername: host } as buildConnector.Options, (err, socket) => {
        if (err || !socket) return resolve({ error: err ?? new Error(`no connection to ${key}`) });
        // Idle until a request takes it; a reset meanwhile must not go unheard.
        socket.on('error', () => undefined);
        resolve({ socket: socket as Socket });
      }),
    );
    const timer = setTimeout(() => void this.takeWarm(key)?.then((d) => 'socket' in d && d.socket.destroy()), this.options.warmTtlMs ?? 5_000);
    timer.unref();
    this.warm.set(key, { dialled, timer });
  }

  private takeWarm(key: string): Promise<Dialled> | undefined {
    const entry = this.warm.get(key);
    if (!entry) return undefined;
    this.warm.delete(key);
    clearTimeout(entry.timer);
    return entry.dialled;
  }

  /** Every address of `host`, after the override and the vetting; rejects with PRIVATE_ADDRESS or DNS_FAILED. */
  async resolveVetted(host: string): Promise<{ addresses: LookupAddress[]; port: number | undefined }> {
    const override = this.options.resolve.get(host);
    let addresses: LookupAddress[];
    if (override) {
      addresses = [{ address: override.address, family: isIP(override.address) }];
    } else {
      try {
        addresses = await this.resolver(host);
      } catch (err) {
        throw new ExchangeError('DNS_FAILED', `${host} did not resolve (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      if (addresses.length === 0) throw new ExchangeError('DNS_FAILED', `${host} has no addresses`);
    }
    const problem = refusedAnswer(addresses, this.options.allowPrivate.has(host));
    if (problem) throw new ExchangeError('PRIVATE_ADDRESS', `${host} resolved to ${problem}`);
    const port = override?.port;
    this.lastAddress.set(host, `${addresses[0]!.address}:${port ?? 443}`);
    return { addresses, port };
  }

  /** The address:port the gateway last dialled (or vetted) for `host`. */
  addressOf(host: string): string | undefined {
    return this.lastAddress.get(host);
  }

  /**
   * The `lookup` net.connect calls. With autoSelectFamily on (the Node 20 default) it asks for
   * `{all: true}` and needs an array back; a single address makes it fail with
   * ERR_INVALID_IP_ADDRESS.
   */
  private vettedLookup(
    hostname: string,
    options: { all?: boolean },
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void {
    this.resolveVetted(hostname).then(
      ({ addresses }) => (options.all ? callback(null, addresses) : callback(null, addresses[0]!.address, addresses[0]!.family)),
      (err: NodeJS.ErrnoException) => callback(err, options.all ? [] : ''),
    );
  }

  /**
   * A raw TCP connection to host:port for tunnel mode, vetted like every other dial. With a
   * relay, the socket reads into its buffer and waits paused for relay.start(); not through a
   * parent proxy, whose socket undici makes.
   */
  async openTunnel(host: string, port: number, relay?: ProviderToClient): Promise<Socket> {
    if (this.options.parentProxy) {
      await this.resolveVetted(host); // the parent re-resolves; at least the gateway's own answer is vetted
      // undici's ProxyAgent (intercept mode) reads user:password@ itself; a bare Client does not.
      const parent = new URL(this.options.parentProxy);
      const credentials = proxyAuthorizationOf(parent);
      const authorization = credentials.ok ? credentials.header : undefined; // the config schema refuses the rest
      const client = new Client(parent.origin, { connect: { timeout: this.options.timeouts.connect } });
      try {
        const { socket, statusCode } = await client.connect({ path: `${host}:${port}`, ...(authorization ? { headers: { 'proxy-authorization': authorization } } : {}) });
        if (statusCode !== 200) {
          socket.destroy();
          const hint = statusCode === 407 ? (authorization ? ': it refused the credentials in upstream.proxy' : ': it wants credentials, as http://user:password@host:port in upstream.proxy') : '';
          throw new ExchangeError('UPSTREAM_CONNECT', `the parent proxy answered ${statusCode} to CONNECT ${host}:${port}${hint}`);
        }
        return socket as Socket;
      } finally {
        void client.close().catch(() => undefined);
      }
    }
    const { addresses, port: overridePort } = await this.resolveVetted(host);
    const address = addresses[0]!;
    return new Promise((resolve, reject) => {
      // Nagle off, as undici does for its own sockets: a spliced TLS record must not wait for
      // the ACK of the previous one (RFC 896 interacting with delayed ACKs, RFC 1122 4.2.3.2).
      const socket = netConnect({ host: address.address, port: overridePort ?? port, family: address.family, noDelay: true, ...(relay ? { onread: relay.onread } : {}) });
      relay?.hold(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ExchangeError('UPSTREAM_TIMEOUT', `no TCP connection to ${host}:${port} within ${this.options.timeouts.connect} ms`));
      }, this.options.timeouts.connect);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(socket);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Through a parent proxy, which resolves the target itself. */
  get viaParent(): boolean {
    return this.options.parentProxy !== undefined;
  }

  async close(): Promise<void> {
    this.deadlines.stop();
    for (const key of [...this.warm.keys()]) void this.takeWarm(key)!.then((d) => 'socket' in d && d.socket.destroy());
    await this.dispatcher.close();
  }
}

const TLS_CODES = /CERT|SSL|TLS|UNABLE_TO_(?:GET|VERIFY)|SELF_SIGNED|HOSTNAME|ALTNAME/;

/** Maps any failure of the upstream hop or of a forwarded exchange to the gateway's code; one place, keyed on err.code. */
export function exchangeCode(err: unknown): ExchangeCode {
  const e = err as { code?: string; cause?: { code?: string } } | undefined;
  for (const code of [e?.code, e?.cause?.code]) {
    switch (code) {
      case 'PRIVATE_ADDRESS':
      case 'DNS_FAILED':
      case 'UPSTREAM_CONNECT':
      case 'UPSTREAM_RESET':
      case 'UPSTREAM_TLS':
      case 'UPSTREAM_TIMEOUT':
      case 'REQUEST_TIMEOUT':
      case 'MALFORMED_REQUEST':
      case 'HEADERS_TOO_LARGE':
      case 'CLIENT_CLOSED':
        return code;
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
      case 'EAI_FAIL':
      case 'EAI_NONAME':
      case 'ENODATA':
        return 'DNS_FAILED';
      case 'UND_ERR_CONNECT_TIMEOUT':
      case 'UND_ERR_HEADERS_TIMEOUT':
      case 'UND_ERR_BODY_TIMEOUT':
      case 'ETIMEDOUT':
        return 'UPSTREAM_TIMEOUT';
      case 'UND_ERR_MAX_ORIGINS_REACHED':
      case 'ECONNREFUSED':
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
      case 'EADDRNOTAVAIL':
        return 'UPSTREAM_CONNECT';
      case 'ECONNRESET':
      case 'EPIPE':
      case 'ECONNABORTED':
      case 'UND_ERR_SOCKET':
      case 'UND_ERR_CLOSED':
        return 'UPSTREAM_RESET';
      default:
        if (code && TLS_CODES.test(code)) return 'UPSTREAM_TLS';
    }
  }
  return 'UPSTREAM_RESET';
}
