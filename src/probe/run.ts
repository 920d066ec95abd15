import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import type { Provider } from '../policy/model.js';
import { refusedAnswer } from '../proxy/addresses.js';
import type { Resolver } from '../proxy/upstream.js';
import { connectFailure, dnsFailure, httpFailure, privateFailure, proxyFailure, statusFailure, tlsFailure, type Failure, type Where } from './diagnose.js';
import type { ProbeRequest, ProbeTarget } from './plan.js';

export type StepName = 'dns' | 'tcp' | 'proxy' | 'tls' | 'http';

export interface StepResult {
  readonly step: StepName;
  readonly ok: boolean;
  /** What the step found: the addresses, the TLS version and certificate, the HTTP status. */
  readonly detail: string;
  /** The same in a word for the table (an address, TLSv1.3, 401), or FAIL. */
  readonly brief: string;
  readonly ms: number;
}

export interface ProbeResult {
  readonly provider: Provider;
  readonly host: string;
  readonly port: number;
  readonly verdict: 'ok' | 'fail' | 'skipped';
  readonly endpoint: string | undefined;
  readonly steps: readonly StepResult[];
  readonly failure: Failure | undefined;
  readonly skipped: string | undefined;
}

export interface ProxyHop {
  readonly host: string;
  readonly port: number;
  /** Proxy-Authorization for the CONNECT; never printed. */
  readonly authorization: string | undefined;
  /** The proxy URL without credentials, for output. */
  readonly display: string;
}

export interface ProbeEnvironment {
  /** upstream.resolve: the address the gateway would dial instead of asking DNS. */
  readonly resolve: ReadonlyMap<string, { readonly address: string; readonly port: number }>;
  readonly allowPrivate: ReadonlySet<string>;
  /**
   * The TLS step's context: every CA it trusts (system roots plus the site's extras), built once
   * for all hosts, since building it parses every root certificate.
   */
  readonly trust: SecureContext;
  readonly resolver: Resolver;
  /** Each step's own bound, so one stuck host cannot stall the probe. */
  readonly stepTimeoutMs: number;
  readonly via: ProxyHop | undefined;
  readonly userAgent: string;
}

/** A step that ran out of time; the diagnosis tells a timeout from an error. */
class StepTimeout extends Error {}

function bounded<T>(ms: number, start: (settle: { resolve: (v: T) => void; reject: (e: unknown) => void }) => () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let cleanup: () => void = () => undefined;
    const timer = setTimeout(() => {
      cleanup();
      reject(new StepTimeout());
    }, ms);
    cleanup = start({
      resolve: (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      reject: (e) => {
        clearTimeout(timer);
        cleanup();
        reject(e);
      },
    });
  });
}

/**
 * Once a step has succeeded, its socket keeps a listener that ignores errors: the next step
 * listens for its own, and a late second error (a reset after the answer) must not end the
 * process. Every socket is destroyed when the host's probe ends.
 */
const quiet = <T extends Socket>(socket: T): T => socket.on('error', () => undefined);

function dialTcp(host: string, port: number, ms: number): Promise<Socket> {
  return bounded(ms, ({ resolve, reject }) => {
    const socket = netConnect({ host, port });
    socket.once('connect', () => resolve(quiet(socket)));
    socket.once('error', reject);
    return () => socket.destroy();
  });
}

/** CONNECT through the proxy on an open socket; resolves with the proxy's answer. */
function openTunnel(socket: Socket, target: string, hop: ProxyHop, ms: number): Promise<{ res: IncomingMessage; tunnel: Socket }> {
  return bounded(ms, ({ resolve, reject }) => {
    const req = httpRequest({
      method: 'CONNECT',
      path: target,
      headers: { host: target, ...(hop.authorization ? { 'proxy-authorization': hop.authorization } : {}) },
      // No agent: with createConnection alone, node:http uses the socket given (agent: false would dial anew).
      createConnection: () => socket,
    });
    req.once('connect', (res, tunnel) => resolve({ res, tunnel }));
    // A proxy that answers CONNECT without upgrading (some send a plain response) still says why.
    req.once('response', (res) => resolve({ res, tunnel: socket }));
    req.once('error', reject);
    req.end();
    return () => socket.destroy();
  });
}

/** The TLS step's context for these CAs; TLS 1.2 at least, as the providers require. */
export function probeTrust(trusted: readonly string[]): SecureContext {
  return createSecureContext({ ca: [...trusted], minVersion: 'TLSv1.2' });
}

function handshake(socket: Socket, host: string, trust: SecureContext, ms: number): Promise<TLSSocket> {
  return bounded(ms, ({ resolve, reject }) => {
    const tls = tlsConnect({ socket, ...(isIP(host) ? {} : { servername: host }), secureContext: trust, ALPNProtocols: ['http/1.1'] });
    tls.once('secureConnect', () => resolve(quiet(tls)));
    tls.once('error', reject);
    // A peer that closes without an alert makes Node emit only 'close' in some versions.
    tls.once('close', () => reject(Object.assign(new Error('socket disconnected during the TLS handshake'), { code: 'ECONNRESET' })));
    return () => tls.destroy();
  });
}

function send(tls: TLSSocket, hostHeader: string, r: ProbeRequest, userAgent: string, ms: number): Promise<IncomingMessage> {
  return bounded(ms, ({ resolve, reject }) => {
    const body = r.body ?? '';
    const req = httpRequest({
      method: r.method,
      path: r.target,
      headers: {
        host: hostHeader,
        'user-agent': userAgent,
        accept: 'application/json',
        connection: 'close',
        ...(r.body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) } : {}),
      },
      createConnection: () => tls,
    });
    req.once('response', (res) => {
      res.resume();
      resolve(res);
    });
    req.once('error', reject);
    req.end(body);
    return () => tls.destroy();
  });
}

function certificateSummary(tls: TLSSocket): string {
  const cert = tls.getPeerCertificate();
  const issuer = cert.issuer?.CN ?? cert.issuer?.O ?? 'unknown issuer';
  return `${tls.getProtocol() ?? 'TLS'}, issued by ${issuer}, valid to ${new Date(cert.valid_to).toISOString().slice(0, 10)}`;
}

/** A step that completed but whose result fails the probe: a private answer, a refused CONNECT, a 5xx. */
class Rejected extends Error {
  constructor(readonly failure: Failure) {
    super(failure.what);
  }
}

/** DNS, TCP, TLS and one HTTP request to one host, directly or through the proxy; stops at the first failure. */
export async function probeHost(target: ProbeTarget, env: ProbeEnvironment): Promise<ProbeResult> {
  const base = { provider: target.provider, host: target.host, port: target.port, endpoint: target.request?.endpoint };
  const request = target.request;
  if (target.skipped || !request) {
    return { ...base, verdict: 'skipped', steps: [], failure: undefined, skipped: target.skipped ?? 'no endpoint of this host can be probed without credentials' };
  }
  const where: Where = { host: target.host, port: target.port, via: env.via?.display };
  const steps: StepResult[] = [];
  const sockets: Socket[] = [];
  /** Runs one step and records it; a failure ends the probe of this host with its diagnosis. */
  const step = async <T>(
    name: StepName,
    run: () => Promise<T>,
    describe: (v: T, ms: number) => readonly [detail: string, brief: string],
    diagnose: (err: unknown, timedOut: boolean) => Failure,
  ): Promise<T> => {
    const started = performance.now();
    try {
      const value = await run();
      const ms = Math.round(performance.now() - started);
      const [detail, brief] = describe(value, ms);
      steps.push({ step: name, ok: true, detail, brief, ms });
      return value;
    } catch (err) {
      const failure = err instanceof Rejected ? err.failure : diagnose(err, err instanceof StepTimeout);
      steps.push({ step: name, ok: false, detail: failure.what, brief: 'FAIL', ms: Math.round(performance.now() - started) });
      throw new Rejected(failure);
    }
  };

  try {
    let socket: Socket;
    if (env.via) {
      const hop = env.via;
      socket = await step('tcp', () => dialTcp(hop.host, hop.port, env.stepTimeoutMs), (_, ms) => [`connected to the proxy ${hop.display}`, `${ms} ms`], (e, t) => connectFailure(e, where, t));
      sockets.push(socket);
      const authority = `${target.host}:${target.port}`;
      socket = await step(
        'proxy',
        async () => {
          const { res, tunnel } = await openTunnel(socket, authority, hop, env.stepTimeoutMs);
          const code = res.headers['x-idp-egress-code'];
          if (res.statusCode !== 200) throw new Rejected(proxyFailure(res.statusCode ?? 0, typeof code === 'string' ? code : undefined, res.statusMessage ?? '', where));
          return tunnel;
        },
        () => [`CONNECT ${authority}: 200`, '200'],
        (e, t) => connectFailure(e, where, t),
      );
    } else {
      const pinned = env.resolve.get(target.host);
      const addresses = await step(
        'dns',
        async () => {
          const found = pinned ? [{ address: pinned.address, family: isIP(pinned.address) }] : await env.resolver(target.host);
          // As the gateway vets it: one refused address refuses the name.
          const problem = refusedAnswer(found, env.allowPrivate.has(target.host));
          if (problem) throw new Rejected(privateFailure(problem, where));
          return found;
        },
        (found) => [`${found.map((a) => a.address).join(', ')}${pinned ? ' (upstream.resolve)' : ''}`, `${found[0]!.address}${pinned ? ' (pinned)' : ''}`],
        (e) => dnsFailure(e, where),
      );
      const address = addresses[0]!.address;
      const port = pinned?.port ?? target.port;
      socket = await step('tcp', () => dialTcp(address, port, env.stepTimeoutMs), (_, ms) => [`connected to ${isIP(address) === 6 ? `[${address}]` : address}:${port}`, `${ms} ms`], (e, t) => connectFailure(e, where, t));
    }
    sockets.push(socket);
    const tls = await step('tls', () => handshake(socket, target.host, env.trust, env.stepTimeoutMs), (t) => [certificateSummary(t), t.getProtocol() ?? 'TLS'], (e, t) => tlsFailure(e, where, t));
    sockets.push(tls);
    const hostHeader = target.port === 443 ? target.host : `${target.host}:${target.port}`;
    await step(
      'http',
      async () => {
        const res = await send(tls, hostHeader, request, env.userAgent, env.stepTimeoutMs);
        const code = res.headers['x-idp-egress-code'];
        const failure = statusFailure(res.statusCode ?? 0, typeof code === 'string' && code !== 'ALLOWED' ? code : undefined, where);
        if (failure) throw new Rejected(failure);
        return res;
      },
      (res) => [`${request.method} ${request.target.split('?')[0]}: ${res.statusCode}`, String(res.statusCode)],
      (e, t) => httpFailure(e, where, t),
    );
    return { ...base, verdict: 'ok', steps, failure: undefined, skipped: undefined };
  } catch (err) {
    if (!(err instanceof Rejected)) throw err;
    return { ...base, verdict: 'fail', steps, failure: err.failure, skipped: undefined };
  } finally {
    for (const s of sockets) s.destroy();
  }
}

/** Probes every target, a few at a time; results in the targets' order. */
export async function probeAll(targets: readonly ProbeTarget[], env: ProbeEnvironment, concurrency = 8): Promise<ProbeResult[]> {
  const results: ProbeResult[] = new Array(targets.length);
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const i = next++;
      results[i] = await probeHost(targets[i]!, env);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, worker));
  return results;
}
