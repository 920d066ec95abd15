import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { ProviderName } from '../config/schema.js';
import { refusedAddress } from '../proxy/addresses.js';
import type { Resolver } from '../proxy/upstream.js';
import { connectFailure, dnsFailure, httpFailure, privateFailure, proxyFailure, statusFailure, tlsFailure, type Failure, type Where } from './diagnose.js';
import type { ProbeRequest, ProbeTarget } from './plan.js';

export type StepName = 'dns' | 'tcp' | 'proxy' | 'tls' | 'http';

export interface StepResult {
  readonly step: StepName;
  readonly ok: boolean;
  /** What the step found: the addresses, the TLS version and certificate, the HTTP status. */
  readonly detail: string;
  readonly ms: number;
}

export interface ProbeResult {
  readonly provider: ProviderName;
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
  readonly pinned: ReadonlyMap<string, { readonly address: string; readonly port: number }>;
  readonly allowPrivate: ReadonlySet<string>;
  /** Every CA the TLS step trusts (system roots plus the site's extras). */
  readonly trusted: readonly string[];
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

function handshake(socket: Socket, host: string, trusted: readonly string[], ms: number): Promise<TLSSocket> {
  return bounded(ms, ({ resolve, reject }) => {
    const tls = tlsConnect({ socket, ...(isIP(host) ? {} : { servername: host }), ca: [...trusted], ALPNProtocols: ['http/1.1'], minVersion: 'TLSv1.2' });
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

/** DNS, TCP, TLS and one HTTP request to one host, directly or through the proxy; stops at the first failure. */
export async function probeHost(target: ProbeTarget, env: ProbeEnvironment): Promise<ProbeResult> {
  const base = { provider: target.provider, host: target.host, port: target.port, endpoint: target.request?.endpoint };
  if (target.skipped || !target.request) {
    return { ...base, verdict: 'skipped', steps: [], failure: undefined, skipped: target.skipped ?? 'no endpoint of this host can be probed without credentials' };
  }
  const where: Where = { host: target.host, port: target.port, via: env.via?.display };
  const steps: StepResult[] = [];
  const sockets: Socket[] = [];
  const fail = (failure: Failure): ProbeResult => ({ ...base, verdict: 'fail', steps, failure, skipped: undefined });
  const timed = async <T>(step: StepName, run: () => Promise<T>, detail: (v: T) => string, diagnose: (err: unknown, timedOut: boolean) => Failure): Promise<T | Failure> => {
    const started = performance.now();
    try {
      const value = await run();
      steps.push({ step, ok: true, detail: detail(value), ms: Math.round(performance.now() - started) });
      return value;
    } catch (err) {
      const failure = diagnose(err, err instanceof StepTimeout);
      steps.push({ step, ok: false, detail: failure.what, ms: Math.round(performance.now() - started) });
      return failure;
    }
  };
  const isFailure = (v: unknown): v is Failure => typeof v === 'object' && v !== null && 'fix' in v && 'code' in v;

  try {
    let socket: Socket;
    if (env.via) {
      const hop = env.via;
      const tcp = await timed('tcp', () => dialTcp(hop.host, hop.port, env.stepTimeoutMs), () => `connected to the proxy ${hop.display}`, (e, t) => connectFailure(e, where, t));
      if (isFailure(tcp)) return fail(tcp);
      sockets.push(tcp);
      const authority = `${target.host}:${target.port}`;
      const opened = await timed('proxy', () => openTunnel(tcp, authority, hop, env.stepTimeoutMs), ({ res }) => `CONNECT ${authority}: ${res.statusCode}`, (e, t) => connectFailure(e, where, t));
      if (isFailure(opened)) return fail(opened);
      const { res, tunnel } = opened;
      if (res.statusCode !== 200) {
        const code = res.headers['x-idp-egress-code'];
        const failure = proxyFailure(res.statusCode ?? 0, typeof code === 'string' ? code : undefined, res.statusMessage ?? '', where);
        steps[steps.length - 1] = { ...steps[steps.length - 1]!, ok: false, detail: failure.what };
        return fail(failure);
      }
      socket = tunnel;
    } else {
      const pinned = env.pinned.get(target.host);
      const dns = await timed(
        'dns',
        async () => (pinned ? [{ address: pinned.address, family: isIP(pinned.address) }] : await env.resolver(target.host)),
        (addresses) => `${addresses.map((a) => a.address).join(', ')}${pinned ? ' (upstream.resolve)' : ''}`,
        (e) => dnsFailure(e, where),
      );
      if (isFailure(dns)) return fail(dns);
      // As the gateway does: one refused address refuses the name.
      for (const a of dns) {
        const problem = refusedAddress(a.address, env.allowPrivate.has(target.host));
        if (problem) {
          steps[steps.length - 1] = { ...steps[steps.length - 1]!, ok: false };
          return fail(privateFailure(problem, where));
        }
      }
      const address = dns[0]!.address;
      const port = pinned?.port ?? target.port;
      const tcp = await timed('tcp', () => dialTcp(address, port, env.stepTimeoutMs), () => `connected to ${isIP(address) === 6 ? `[${address}]` : address}:${port}`, (e, t) => connectFailure(e, where, t));
      if (isFailure(tcp)) return fail(tcp);
      socket = tcp;
    }
    sockets.push(socket);
    const tls = await timed('tls', () => handshake(socket, target.host, env.trusted, env.stepTimeoutMs), certificateSummary, (e, t) => tlsFailure(e, where, t));
    if (isFailure(tls)) return fail(tls);
    sockets.push(tls);
    const hostHeader = target.port === 443 ? target.host : `${target.host}:${target.port}`;
    const request = target.request;
    const res = await timed('http', () => send(tls, hostHeader, request, env.userAgent, env.stepTimeoutMs), (r) => `${request.method} ${request.target.split('?')[0]}: ${r.statusCode}`, (e, t) => httpFailure(e, where, t));
    if (isFailure(res)) return fail(res);
    const code = res.headers['x-idp-egress-code'];
    const failure = statusFailure(res.statusCode ?? 0, typeof code === 'string' && code !== 'ALLOWED' ? code : undefined, where);
    if (failure) {
      steps[steps.length - 1] = { ...steps[steps.length - 1]!, ok: false };
      return fail(failure);
    }
    return { ...base, verdict: 'ok', steps, failure: undefined, skipped: undefined };
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
