import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { DEFAULT_MAX_VERSION, DEFAULT_MIN_VERSION, TLSSocket } from 'node:tls';
import { statusOfCode, type Code } from '../core/errors.js';
import { leafNameFor } from '../policy/compile.js';
import type { Policy } from '../policy/model.js';
import type { Decision } from '../policy/decide.js';
import { decisionText } from '../policy/decision-text.js';
import { redact, redactEchoes, type Redacted } from '../core/redact.js';
import { failureEffect, judge, type Verdict } from '../policy/judge.js';
import { outcomeId } from '../audit/outcome-id.js';
import { OUTCOME_CHANNEL, type Outcome } from '../audit/outcome.js';
import { tenantOfTokenCall, tokenRequestAudit, tokenResponseAudit, type TokenFingerprinter } from '../audit/token-call.js';
import type { LeafMinter, MintedLeaf } from '../tls/leaf-minter.js';
import type { ClientAccess } from './client-access.js';
import { peekServerName } from './client-hello.js';
import { clientKey, ConnectionTable, type ConnectionLimits } from './connections.js';
import { forward, type ForwardedExchange, type ForwardResult } from './forward.js';
import { ProviderToClient } from './tunnel-relay.js';
import { TunnelIdle } from './tunnel-idle.js';
import { answer, rawAnswer, type GatewayAnswer } from './responses.js';
import { exchangeCode, ExchangeError, type ExchangeCode, type Upstream } from './upstream.js';

/**
 * The method and target of a request Node's parser refused, when its request line was whole
 * (`METHOD SP target SP HTTP/1.x`), so the audit shows what was refused; the target is redacted
 * like every other.
 */
function requestLineOf(raw: Buffer | undefined): { method: string; target: string } | undefined {
  if (!raw) return undefined;
  const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}) ([\x21-\x7e]{1,8192}) HTTP\/1\.[01]\r?\n/.exec(raw.subarray(0, 8300).toString('latin1'));
  return m ? { method: m[1]!, target: m[2]! } : undefined;
}

/**
 * What a client that is not speaking HTTP/1.1 to the proxy port is speaking instead, when it is
 * a mistake with a known fix: a proxy URL written https:// (curl, HTTPS_PROXY=https://...) opens
 * TLS to the proxy itself, a TLS record (RFC 8446 section 5.1: content type 22, then legacy
 * version 3.x); an HTTP/2 client with prior knowledge sends its preface (RFC 9113 section 3.4).
 */
function notHttpHint(raw: Buffer | undefined): string {
  if (raw && raw.length >= 3 && raw[0] === 0x16 && raw[1] === 0x03) {
    return ': it is a TLS handshake, so the client was set to reach the proxy over https://; the proxy port speaks plain HTTP, so give it as http://HOST:PORT (TLS to the provider still goes inside the CONNECT tunnel)';
  }
  if (raw && raw.subarray(0, 14).toString('latin1') === 'PRI * HTTP/2.0') {
    return ': it is HTTP/2 with prior knowledge; the proxy port speaks HTTP/1.1, so let the client use HTTP/1.1 to the proxy';
  }
  return '';
}

/** The body of a 502/504: what the gateway could not do, its code and the upstream's reason. */
function failureText(what: string, code: Code, err: unknown): string {
  return `idp-egress could not ${what}\n  code:     ${code}\n  reason:   ${(err as Error).message}\n`;
}

const SHUTDOWN_ANSWER: GatewayAnswer = { code: 'SHUTTING_DOWN', text: 'the gateway is shutting down; retry on another instance or after it restarts' };
const SHUTDOWN_IN_HANDSHAKE = 'the gateway shut down before the tunnel carried a request (during the ClientHello or the TLS handshake)';

/** How often, at most, the servers look for request headers past limits.headersTimeout. */
const HEADERS_SWEEP_MS = 1_000;

/**
 * The protocols the gateway's side of an intercepted tunnel accepts in ALPN (RFC 7301): the
 * HTTP/1.x its inner server speaks. Never h2, so a client that offers it falls back to
 * http/1.1; http/1.0 for clients that offer only that (curl -0).
 */
const INTERCEPT_ALPN = ['http/1.1', 'http/1.0'];

/**
 * Why a client's TLS handshake inside an intercepted tunnel failed, from this side's error code.
 * OpenSSL names the handshakes this side refused; anything else is the client giving up (an
 * alert such as certificate_unknown, or just a close), which is nearly always a client that does
 * not trust the gateway's CA: the JVM's "PKIX path building failed".
 */
function handshakeFailure(code: string | undefined): string {
  switch (code) {
    case 'ERR_SSL_NO_APPLICATION_PROTOCOL':
      return `the client offered no application protocol (ALPN) the gateway speaks: ${INTERCEPT_ALPN.join(' or ')}, not h2`;
    case 'ERR_SSL_UNSUPPORTED_PROTOCOL':
      return `the client offered no TLS version the gateway accepts: ${DEFAULT_MIN_VERSION} to ${DEFAULT_MAX_VERSION}`;
    case 'ERR_SSL_NO_SHARED_CIPHER':
      return 'the client offered no cipher suite the gateway accepts';
    default:
      return `the client ended the TLS handshake${code ? ` (${code})` : ''}; does it trust the idp-egress CA? see idp-egress jvm`;
  }
}

export interface GatewayOptions {
  /** The policy in force; called per request so a reload takes effect at once. */
  readonly policy: () => Policy;
  readonly upstream: Upstream;
  readonly minter: LeafMinter;
  /** Read per request, like the policy: `clients` and `proxyAuth` change on a reload. */
  readonly access: () => ClientAccess;
  /** Read per request, like the policy, so a reload applies it at once. */
  readonly explainDenials: () => boolean;
  readonly limits: ConnectionLimits & {
    readonly maxHeaderBytes: number;
    readonly headersTimeout: number;
    readonly idleTimeout: number;
  };
  /** How much of a token call's bodies the audit reads (limits.maxTokenBodyBytes). */
  readonly maxTokenBodyBytes: number;
  readonly fingerprints: TokenFingerprinter;
  /** Collect each request's header names, which only the debug log writes (log.level: debug). */
  readonly recordHeaderNames: boolean;
}

/** What an event knows from its start: who asked for what, and when. */
interface EventStart {
  readonly kind: 'request' | 'connect' | 'connection';
  readonly client: string;
  readonly method: string;
  readonly url: string;
  readonly started: number;
}

/** Where a request's event starts: a request sent to the proxy, or one inside a tunnel. */
interface RequestAt extends EventStart {
  readonly kind: 'request';
}

/** What a CONNECT's events carry from the moment it was judged. */
interface ConnectAt extends EventStart {
  readonly kind: 'connect';
  readonly decision: Decision;
}

/** How an event ended: the rest of its Outcome. */
type EventEnd = Omit<Outcome, 'id' | 'kind' | 'client' | 'method' | 'url' | 'durationMs' | 'time'> & { readonly kind?: 'tunnel' };

interface TunnelContext {
  readonly host: string;
  readonly port: number;
  readonly client: string;
  /** The client's TCP connection the tunnel rides on: what the connection table counts. */
  readonly outer: Socket;
  /** Each request's response calls this when it closes: one function per tunnel, not a closure and a once-wrapper per request. */
  readonly requestClosed: () => void;
}

/**
 * A request inside a tunnel as the audit shows it: the tunnel's origin and the origin-form
 * target. An absolute-form target inside a tunnel is refused (not origin-form) and shown as sent.
 */
function tunnelUrl(ctx: TunnelContext, target: string): string {
  if (target !== '' && !target.startsWith('/')) return target;
  return `https://${ctx.host}${ctx.port === 443 ? '' : `:${ctx.port}`}${target}`;
}

function headerNames(raw: readonly string[]): string[] {
  const names: string[] = [];
  for (let i = 0; i < raw.length; i += 2) names.push(raw[i]!.toLowerCase());
  return names;
}

/** The forward proxy: absolute-form HTTP requests and CONNECT, intercepted or tunnelled. */
export class Gateway {
  /** Accepts TCP connections and admits them (connections.ts) before any HTTP is parsed. */
  private readonly listener: NetServer;
  private readonly outer: Server;
  private readonly connections: ConnectionTable;
  /** Parses the HTTP requests inside intercepted tunnels; it never listens itself. */
  private readonly inner: Server;
  private readonly tunnels = new WeakMap<Socket, TunnelContext>();
  private readonly sockets = new Set<Socket>();
  private inFlight = 0;
  private closing = false;
  /**
   * CONNECTs not yet answered (waiting for a tunnel-mode dial), each with the answer a shutdown
   * gives it; and tunnels answered 200 whose client has not finished its TLS handshake. Neither
   * has a request in progress, so a shutdown ends them at once, and says so.
   */
  private readonly unanswered = new Map<Socket, () => void>();
  private readonly handshaking = new Set<Socket>();
  /** Connections onClientError has answered and is closing. */
  private readonly refusedByParser = new WeakSet<Socket>();
  /** The request being forwarded on a connection, and its exchange, to cut short if the parser refuses its body. */
  private readonly forwarding = new WeakMap<Socket, { readonly req: IncomingMessage; readonly exchange: ForwardedExchange }>();
  /** limits.idleTimeout for spliced tunnels (tunnel-idle.ts). */
  private readonly tunnelIdle: TunnelIdle;

  constructor(private readonly options: GatewayOptions) {
    this.tunnelIdle = new TunnelIdle(options.limits.idleTimeout);
    const serverOptions = {
      maxHeaderSize: options.limits.maxHeaderBytes,
      headersTimeout: options.limits.headersTimeout,
      // Node enforces headersTimeout only when it sweeps its connections, every 30 s by
      // default, so a 5 s limit could run to 35 s.
      connectionsCheckingInterval: Math.min(HEADERS_SWEEP_MS, options.limits.headersTimeout),
      requestTimeout: 0,
      keepAliveTimeout: options.limits.idleTimeout,
      // The gateway checks Host itself (request-shape.ts), so the 400 carries a code and is audited.
      requireHostHeader: false,
    };
    this.connections = new ConnectionTable(() => options.limits);
    this.listener = createNetServer({ noDelay: true }, (socket) => this.onConnection(socket));
    this.outer = createServer(serverOptions, (req, res) => this.onPlainRequest(req, res));
    this.outer.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => void this.onConnect(req, socket, head));
    this.outer.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const socket = req.socket as Socket;
      this.connections.busy(socket);
      res.once('close', () => this.connections.done(socket));
    });
    this.outer.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.onClientError(err, socket));
    this.inner = createServer(serverOptions, (req, res) => this.onTunnelRequest(req, res));
    this.inner.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.onClientError(err, socket));
    // Node tracks a server's connections for headersTimeout from its 'listening' event
    // (setupConnectionsTracking in lib/_http_server.js). The inner server is handed tunnels and
    // never listens, so without this a client inside a tunnel could send its headers a byte at
    // a time for as long as each byte came within idleTimeout (slowloris). The outer server is
    // handed its connections by the listener, after admission, for the same reason.
    this.inner.emit('listening');
    this.outer.emit('listening');
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.listener.once('error', reject);
      this.listener.listen(port, host, () => {
        this.listener.off('error', reject);
        resolve();
      });
    });
    return this.listener.address() as AddressInfo;
  }

  /** Stops accepting, lets in-flight requests finish until `graceMs`, then closes everything. */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    for (const answerShutdown of [...this.unanswered.values()]) answerShutdown();
    // Their audit events are published as they close: wait for that, so none is lost.
    const cut = [...this.handshaking].map((socket) => new Promise<void>((resolve) => (socket.destroyed && socket.closed ? resolve() : socket.once('close', () => setImmediate(resolve)))));
    for (const socket of this.handshaking) socket.destroy();
    await Promise.race([Promise.all(cut), new Promise((r) => setTimeout(r, 1_000).unref())]);
    // Connections with no request in progress (keep-alive, tunnels between requests) go at once.
    for (const socket of this.connections.idleSockets()) socket.destroy();
    // Stops the inner server's headersTimeout sweep; it has no listener of its own to close.
    this.inner.close(() => undefined);
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    this.outer.close(() => undefined);
    this.outer.closeIdleConnections();
    const deadline = Date.now() + graceMs;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  get activeRequests(): number {
    return this.inFlight;
  }

  /** Open client connections, intercepted tunnels included. */
  get connectionCount(): number {
    return this.sockets.size;
  }

  get listening(): boolean {
    return this.listener.listening;
  }

  /** Client connections the connection table holds: released when each one closes. */
  get heldConnections(): number {
    return this.connections.size;
  }

  /** Connections closed to make room for a new client (limits.maxConnections), since start. */
  get evictedConnections(): number {
    return this.connections.evicted;
  }

  /** A new TCP connection: admitted to the HTTP server, or answered and closed with its code. */
  private onConnection(socket: Socket): void {
    const started = performance.now();
    socket.on('error', () => socket.destroy());
    const admitted = this.connections.admit(socket);
    if (!admitted.ok) {
      const answered = this.connections.closeAfter(socket, rawAnswer({ code: admitted.code, text: admitted.reason }));
      this.publish(
        { kind: 'connection', client: socket.remoteAddress ?? '', method: '', url: '', started },
        { code: admitted.code, decision: undefined, enforced: true, status: answered ? statusOfCode(admitted.code) : undefined, tls: undefined, reason: admitted.reason },
      );
      return;
    }
    this.track(socket);
    this.outer.emit('connection', socket);
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /**
   * Node's parser refused the request (bad framing, CL+TE, a bad request line, a missing Host:
   * 400; oversized headers: 431) or its headers did not complete within limits.headersTimeout
   * (408). Answered, audited (as far as the request line could be read) and closed.
   */
  private onClientError(err: NodeJS.ErrnoException & { rawPacket?: Buffer; reason?: string }, socket: Socket): void {
    // The client's connection failed (a reset between requests, a write to a closed socket):
    // nothing was refused, and a request in progress is audited where it is handled.
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
      socket.destroy();
      return;
    }
    // A TLS handshake inside a tunnel that failed (a client that does not trust the minted leaf
    // sends unknown_ca or certificate_unknown) reaches the inner server as a client error too; no
    // request was refused, and the tunnel's own event (CLIENT_TLS_FAILED, intercept()) says why.
    if (this.handshaking.has(socket)) {
      socket.destroy();
      return;
    }
    // One refusal per connection: after a 408, the client's close reaches the parser as an
    // unexpected end of the request it never finished (found by the soak: two events per 408).
    if (this.refusedByParser.has(socket)) return;
    this.refusedByParser.add(socket);
    const started = performance.now();
    const tunnel = this.tunnels.get(socket);
    const forwarded = this.forwarding.get(socket);
    // Every refusal here can also end a request being forwarded (ExchangeCode).
    const a: GatewayAnswer & { readonly code: ExchangeCode } =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? { code: 'REQUEST_TIMEOUT', text: `the request headers did not complete within ${this.options.limits.headersTimeout} ms (limits.headersTimeout)` }
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? { code: 'HEADERS_TOO_LARGE', text: `request headers are larger than ${this.options.limits.maxHeaderBytes} bytes (limits.maxHeaderBytes)` }
          : err.code === 'HPE_INVALID_EOF_STATE'
            ? { code: 'MALFORMED_REQUEST', text: 'the client closed the connection before its request was complete' }
            : { code: 'MALFORMED_REQUEST', text: `the request is not valid HTTP/1.1 (${err.code ?? 'parse error'}${err.reason ? `: ${err.reason}` : ''})${tunnel ? '' : notHttpHint(err.rawPacket)}` };
    // A body refused while its request is forwarded (a bad chunk, oversized trailers, the client
    // gone before its end): that request's own answer and event carry the code, so the audit has
    // one event for it, not a connection's beside an allowed call that "failed upstream".
    if (forwarded && !forwarded.req.complete) return forwarded.exchange.abort(new ExchangeError(a.code, a.text));
    const line = requestLineOf(err.rawPacket);
    const url = tunnel ? tunnelUrl(tunnel, line?.target ?? '') : (line?.target ?? '');
    let refused = false;
    const refuse = () => {
      if (refused) return;
      refused = true;
      socket.off('close', refuse);
      // Nothing is sent when the client is gone (an answer to nobody is not one), nor past the
      // answers the descriptors allow at once. Inside a tunnel `socket` is the TLS socket: the
      // answer goes through TLS, then close_notify.
      const answered = this.connections.closeAfter(socket, socket.writable ? rawAnswer(a) : undefined);
      this.publish(
        { kind: 'connection', client: tunnel?.client ?? socket.remoteAddress ?? '', method: line?.method ?? '', url, started },
        { code: a.code, decision: undefined, enforced: true, status: answered ? statusOfCode(a.code) : undefined, tls: tunnel ? 'intercept' : undefined, reason: a.text },
      );
    };
    // Behind requests still being answered (pipelined), the refusal is the next response, not one
    // written into theirs; a connection that closes first gets none, and its event says so.
    this.connections.afterRequests(tunnel?.outer ?? socket, refuse);
    if (!refused) socket.once('close', refuse);
  }

  /** A request sent to the proxy itself: absolute-form (GET https://host/path HTTP/1.1). */
  private onPlainRequest(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const client = req.socket.remoteAddress ?? '';
    const method = req.method ?? '';
    const url = req.url ?? '';
    const admitted = this.admit(req);
    if (admitted) {
      this.finishEarly(res, admitted, { kind: 'request', client, method, url, started });
      return;
    }
    const verdict = judge(this.options.policy(), {
      form: 'absolute',
      method,
      url,
      shape: { method, httpVersion: req.httpVersion, rawHeaders: req.rawHeaders },
      token: { authorization: req.headers.authorization },
    });
    this.handle(req, res, verdict, { kind: 'request', client, method, url, started });
  }

  /** A request inside an intercepted tunnel: origin-form, judged against the tunnel's host. */
  private onTunnelRequest(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const ctx = this.tunnels.get(req.socket as Socket);
    const method = req.method ?? '';
    const target = req.url ?? '';
    if (!ctx) {
      req.socket.destroy();
      return;
    }
    const url = tunnelUrl(ctx, target);
    this.connections.busy(ctx.outer);
    // The connection table is the one count of requests in progress per connection (a second
    // count per tunnel kept every tunnel whose client hung up mid-request: found by the soak).
    res.on('close', ctx.requestClosed);
    // While draining, finish this request and close the tunnel after it (Connection: close).
    if (this.closing) res.shouldKeepAlive = false;
    const verdict = judge(this.options.policy(), {
      form: 'tunnel',
      method,
      target,
      host: ctx.host,
      port: ctx.port,
      hostHeader: req.headers.host,
      shape: { method, httpVersion: req.httpVersion, rawHeaders: req.rawHeaders },
      token: { authorization: req.headers.authorization },
    });
    this.handle(req, res, verdict, { kind: 'request', client: ctx.client, method, url, started }, ctx);
  }

  private handle(req: IncomingMessage, res: ServerResponse, verdict: Verdict, at: RequestAt, tunnel?: TunnelContext): void {
    const decision = verdict.decision;
    if (verdict.effect === 'deny') {
      // A request whose framing cannot be trusted leaves nothing trustworthy after it on the connection.
      if (!verdict.framingTrusted) res.shouldKeepAlive = false;
      answer(res, { code: decision.code, text: this.denialText(at.method, at.url, verdict), endpoint: decision.endpoint });
      this.publish(at, { code: decision.code, decision, enforced: true, status: res.statusCode, tls: decision.tls ?? (tunnel ? 'intercept' : undefined), reason: decision.reason });
      return;
    }
    const target = verdict.target!;
    this.inFlight++;
    const isToken = decision.kind === 'token';
    const presentedTokenFp = isToken ? undefined : this.options.fingerprints.ofAuthorization(req.headers.authorization);
    const socket = req.socket as Socket;
    const exchange = forward(
      this.options.upstream,
      req,
      res,
      { host: decision.host!, port: decision.port!, target, captureBytes: isToken ? this.options.maxTokenBodyBytes : 0, client: this.connections.clientOf(tunnel?.outer ?? socket) ?? clientKey(at.client) },
      (err, r) => {
        this.inFlight--;
        // A pipelined request after this one may hold the entry by now.
        if (this.forwarding.get(socket)?.req === req) this.forwarding.delete(socket);
        // An answer to an unfinished body closes the connection (answer(), responses.ts).
        if (err) return this.forwardFailed(res, at, decision, err, presentedTokenFp);
        // Called from undici's parser: a fault in building the event is still audited, as a failure.
        try {
          this.forwarded(req, at, decision, target, r!, presentedTokenFp);
        } catch (fault) {
          this.forwardFailed(res, at, decision, fault as Error, presentedTokenFp);
        }
      },
    );
    // A dispatch that threw has ended it already: then there is nothing to cut.
    if (!exchange.over) this.forwarding.set(socket, { req, exchange });
  }

  /** An allowed request the provider answered: its event, with the token call's audit if it was one. */
  private forwarded(req: IncomingMessage, at: RequestAt, decision: Decision, target: string, r: ForwardResult, presentedTokenFp: string | undefined): void {
    const isToken = decision.kind === 'token';
    const tenant = isToken ? tenantOfTokenCall(decision.template, target) : undefined;
    const token = isToken
      ? {
          ...(tenant ? { tenant } : {}),
          ...tokenRequestAudit(req.headers['content-type'], r.requestBody!),
          ...tokenResponseAudit(r.responseHeaders['content-type'], r.responseBody!, this.options.fingerprints, r.responseHeaders['content-encoding']),
        }
      : undefined;
    this.publish(at, {
      code: decision.code,
      decision,
      enforced: false,
      status: r.status,
      tls: decision.tls,
      reason: decision.reason,
      bytesIn: r.bytesIn,
      bytesOut: r.bytesOut,
      upstream: r.upstreamAddress,
      responseHeaders: r.responseHeaders,
      token,
      presentedTokenFp,
      requestHeaderNames: this.options.recordHeaderNames ? headerNames(req.rawHeaders) : undefined,
    });
  }

  /**
   * An allowed request that could not be completed: a 502/504 that names the provider hop's
   * failure (or the 4xx of a body refused part-way), when no status was sent yet. A client that
   * left gets no answer, and its event the status sent before it left, if any.
   */
  private forwardFailed(res: ServerResponse, at: RequestAt, decision: Decision, err: Error, presentedTokenFp: string | undefined): void {
    const code = exchangeCode(err);
    let status = res.headersSent ? res.statusCode : undefined;
    if (code !== 'CLIENT_CLOSED') {
      const shown = this.shown(at.url, decision);
      answer(res, { code, text: redactEchoes(failureText(`complete ${at.method} ${shown.text}`, code, err), shown.removed), endpoint: decision.endpoint });
      status ??= res.statusCode;
    }
    this.publish(at, { code, decision, enforced: failureEffect(code) === 'deny', status, tls: decision.tls, reason: err.message, presentedTokenFp });
  }

  private async onConnect(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    const started = performance.now();
    const client = socket.remoteAddress ?? '';
    const url = req.url ?? '';
    const at = { kind: 'connect' as const, client, method: 'CONNECT', url, started };
    socket.on('error', () => socket.destroy());
    this.connections.busy(socket);
    let answered = false;
    const refuse = (a: GatewayAnswer, decision?: Decision, reason = decision?.reason ?? a.text) => {
      if (answered) return;
      answered = true;
      this.unanswered.delete(socket);
      const sent = this.connections.closeAfter(socket, rawAnswer({ ...a, text: redactEchoes(a.text, this.shown(url, decision).removed) }));
      this.publish(at, { code: a.code, decision, enforced: true, status: sent ? statusOfCode(a.code) : undefined, tls: decision?.tls, reason });
    };
    if (this.closing) return refuse(SHUTDOWN_ANSWER, undefined, SHUTDOWN_ANSWER.text);
    const admitted = this.admit(req);
    if (admitted) return refuse(admitted);
    const connect = judge(this.options.policy(), { form: 'connect', authority: url });
    const decision = connect.decision;
    if (connect.effect === 'deny') return refuse({ code: decision.code, text: this.denialText('CONNECT', url, connect) }, decision);
    const port = decision.port!;
    const host = decision.host!;
    const mode = decision.tls ?? 'intercept';
    let upstreamSocket: Socket | undefined;
    // Through a parent proxy the provider's socket is undici's, made without a relay's buffer: piped.
    const relay = mode === 'tunnel' && !this.options.upstream.viaParent ? new ProviderToClient() : undefined;
    if (mode === 'tunnel') {
      this.unanswered.set(socket, () => refuse(SHUTDOWN_ANSWER, decision, SHUTDOWN_ANSWER.text));
      // Connect first, so a failure is still a status the client can log, not a dropped tunnel.
      try {
        upstreamSocket = await this.options.upstream.openTunnel(host, port, relay);
      } catch (err) {
        const code = exchangeCode(err);
        return refuse({ code, text: failureText(`open ${host}:${port}`, code, err) }, decision, (err as Error).message);
      }
      this.unanswered.delete(socket);
      // The shutdown answered it while the dial was on its way.
      if (answered) {
        upstreamSocket.destroy();
        return;
      }
    }
    answered = true;
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    this.handshaking.add(socket);
    socket.once('close', () => this.handshaking.delete(socket));
    if (head.length > 0) socket.unshift(head);
    // Leaves are minted at start for every policy host (serve.ts); one that is not ready yet (or
    // fell out of the cache) is minted while the client reads the 200 and sends its ClientHello.
    // The provider is dialled at the same moment (Upstream.prewarm), after the 200 is on its way:
    // setting up that dial takes ~0.7 ms, which the client then spends preparing its ClientHello.
    let leaf: Promise<MintedLeaf> | undefined;
    if (mode === 'intercept') {
      leaf = this.options.minter.contextFor(leafNameFor(this.options.policy(), host));
      leaf.catch(() => undefined);
      this.options.upstream.prewarm(host, port);
    }

    const hello = await this.awaitClientHello(socket);
    if (!hello.ok) {
      upstreamSocket?.destroy();
      socket.destroy();
      const ended = this.closing ? { code: 'SHUTTING_DOWN' as const, reason: SHUTDOWN_IN_HANDSHAKE } : hello;
      this.publish(at, { code: ended.code, decision, enforced: true, status: undefined, tls: mode, reason: ended.reason });
      return;
    }
    const sni = hello.serverName;
    if (sni !== undefined) {
      const withName = judge(this.options.policy(), { form: 'connect', authority: url, serverName: sni });
      // Observe mode lets a host no provider has through here as it did at CONNECT; a server
      // name that differs from the CONNECT host (SNI_MISMATCH) is always refused.
      if (withName.effect === 'deny') {
        const sniDecision = withName.decision;
        upstreamSocket?.destroy();
        socket.destroy();
        this.publish(at, { code: sniDecision.code, decision: sniDecision, enforced: true, status: undefined, tls: mode, reason: sniDecision.reason });
        return;
      }
    }
    const judged: ConnectAt = { kind: 'connect', client, method: 'CONNECT', url, started, decision };
    if (upstreamSocket) {
      this.handshaking.delete(socket);
      return this.splice(socket, upstreamSocket, judged, relay);
    }
    const requestClosed = () => {
      if (this.connections.done(socket) && this.closing) socket.destroy();
    };
    await this.intercept(socket, leaf!, { host, port, client, outer: socket, requestClosed }, judged);
  }

  /** The ClientHello's server name, read without consuming it, within limits.headersTimeout. */
  private async awaitClientHello(socket: Socket): Promise<{ ok: true; serverName: string | undefined } | { ok: false; code: Code; reason: string }> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, this.options.limits.headersTimeout);
    try {
      const hello = await peekServerName(socket);
      if (timedOut) return { ok: false, code: 'REQUEST_TIMEOUT', reason: `no TLS ClientHello within ${this.options.limits.headersTimeout} ms (limits.headersTimeout)` };
      return hello.ok ? hello : { ok: false, code: 'MALFORMED_REQUEST', reason: hello.reason };
    } finally {
      clearTimeout(timer);
    }
  }

  private async intercept(
    socket: Socket,
    minting: Promise<MintedLeaf>,
    ctx: TunnelContext,
    at: ConnectAt,
  ): Promise<void> {
    let leaf;
    try {
      leaf = await minting;
    } catch (err) {
      socket.destroy();
      this.publish(at, { code: 'UPSTREAM_TLS', decision: at.decision, enforced: true, status: undefined, tls: 'intercept', reason: `could not mint a certificate: ${(err as Error).message}` });
      return;
    }
    const tlsSocket = new TLSSocket(socket, { isServer: true, secureContext: leaf.context, ALPNProtocols: INTERCEPT_ALPN });
    // The handshake is now the TLS socket's: a shutdown ends that one, and waits for its event.
    if (this.handshaking.delete(socket)) this.handshaking.add(tlsSocket);
    tlsSocket.once('close', () => this.handshaking.delete(tlsSocket));
    this.tunnels.set(tlsSocket, ctx);
    this.track(tlsSocket);
    tlsSocket.setTimeout(this.options.limits.idleTimeout, () => {
      // A request being forwarded is timed by the upstream deadlines in every phase, a client
      // that stopped reading its response included (`paused`), and they say which limit ended
      // it; closed here, it would read as the client hanging up. Any activity re-arms this timer.
      if (!this.forwarding.has(tlsSocket)) tlsSocket.destroy();
    });
    // A client that rejects the minted certificate (the JVM's "PKIX path building failed") closes
    // the tunnel before the handshake completes, usually without any error on this side. Without
    // this event the gateway would show an allowed CONNECT and nothing else.
    let secured = false;
    let handshakeError: string | undefined;
    tlsSocket.once('secure', () => {
      secured = true;
      this.handshaking.delete(tlsSocket);
      // Between its requests an intercepted tunnel is idle, like a keep-alive connection.
      this.connections.done(ctx.outer);
    });
    tlsSocket.on('error', (err: NodeJS.ErrnoException) => {
      if (!secured) handshakeError ??= err.code ?? err.message;
      tlsSocket.destroy();
    });
    tlsSocket.once('close', () => {
      if (secured) return;
      // A handshake the gateway's own shutdown cut is not the client's failure.
      this.publish(at, {
        code: this.closing ? 'SHUTTING_DOWN' : 'CLIENT_TLS_FAILED',
        decision: at.decision,
        enforced: false,
        status: undefined,
        tls: 'intercept',
        reason: this.closing ? SHUTDOWN_IN_HANDSHAKE : handshakeFailure(handshakeError),
      });
    });
    this.inner.emit('connection', tlsSocket);
    // In observe mode the CONNECT may be one enforce would refuse: the event keeps its code.
    this.publish(at, { code: at.decision.action === 'allow' ? 'ALLOWED' : at.decision.code, decision: at.decision, enforced: false, status: 200, tls: 'intercept', reason: at.decision.reason });
  }

  private splice(client: Socket, upstream: Socket, at: ConnectAt, relay: ProviderToClient | undefined): void {
    this.inFlight++;
    this.connections.pin(client);
    let done = false;
    let idle = false;
    // Without an idle limit a tunnel lived as long as the provider kept the connection open.
    const watch = this.tunnelIdle.watch(client, () => {
      idle = true;
      finish();
    });
    const finish = () => {
      if (done) return;
      done = true;
      this.inFlight--;
      watch.forget();
      client.destroy();
      upstream.destroy();
      this.publish(at, {
        kind: 'tunnel',
        code: at.decision.code,
        decision: at.decision,
        enforced: false,
        status: 200,
        tls: 'tunnel',
        reason: `${at.decision.reason}; tunnel mode: path rules were not applied${idle ? `; closed after ${this.options.limits.idleTimeout} ms without traffic (limits.idleTimeout)` : ''}`,
        bytesIn: client.bytesRead,
        bytesOut: client.bytesWritten,
        upstream: `${upstream.remoteAddress}:${upstream.remotePort}`,
      });
    };
    client.on('close', finish);
    upstream.on('close', finish);
    upstream.on('error', finish);
    client.pipe(upstream);
    if (relay) relay.start(client);
    else upstream.pipe(client);
  }

  /**
   * A URL as the gateway may show it, in the audit and in its own answers (which clients log):
   * query values the provider's pack does not name as safe replaced, userinfo gone.
   */
  private shown(url: string, decision: Decision | undefined): Redacted {
    return redact(url, decision?.provider ? this.options.policy().loggableQuery.get(decision.provider) : undefined);
  }

  /** The body of a 403: the full explanation, or only the code when explainDenials is off. */
  private denialText(method: string, url: string, verdict: Verdict): string {
    if (!this.options.explainDenials()) return `DENY  ${verdict.decision.code}\n`;
    const shown = this.shown(url, verdict.decision);
    return redactEchoes(decisionText(method, shown.text, verdict, { closest: true }), shown.removed);
  }

  private admit(req: IncomingMessage): GatewayAnswer | undefined {
    const r = this.options.access().check(req.socket.remoteAddress, req.headers['proxy-authorization']);
    if (r.ok) return undefined;
    return {
      code: r.code,
      text: r.reason,
      ...(r.code === 'PROXY_AUTH_REQUIRED' ? { extraHeaders: { 'proxy-authenticate': 'Basic realm="idp-egress"' } } : {}),
    };
  }

  private finishEarly(res: ServerResponse, a: GatewayAnswer, at: RequestAt): void {
    // The text may quote the request (a malformed URL); the client's own logs keep what it says.
    answer(res, { ...a, text: redactEchoes(a.text, this.shown(at.url, undefined).removed) });
    this.publish(at, { code: a.code, decision: undefined, enforced: true, status: res.statusCode, tls: undefined, reason: a.text });
  }

  /**
   * Every field is named, none spread: on Node 20 (V8 11.3) each property that follows an object
   * spread in a literal costs ~1.5 us, ~20 us for an event built that way (measured; the
   * gateway built three per request).
   */
  private publish(start: EventStart, end: EventEnd): void {
    if (!OUTCOME_CHANNEL.hasSubscribers) return;
    const shown = this.shown(start.url, end.decision);
    OUTCOME_CHANNEL.publish({
      id: outcomeId(),
      kind: end.kind ?? start.kind,
      client: start.client,
      method: start.method,
      url: shown.text,
      code: end.code,
      decision: end.decision,
      enforced: end.enforced,
      status: end.status,
      tls: end.tls,
      reason: redactEchoes(end.reason, shown.removed),
      durationMs: performance.now() - start.started,
      time: Date.now(),
      bytesIn: end.bytesIn,
      bytesOut: end.bytesOut,
      upstream: end.upstream,
      responseHeaders: end.responseHeaders,
      token: end.token,
      presentedTokenFp: end.presentedTokenFp,
      requestHeaderNames: end.requestHeaderNames,
    } satisfies Outcome);
  }
}
