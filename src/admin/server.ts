import { hash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { GatewayMetrics } from '../audit/metrics.js';
import { isLoopback } from '../core/address.js';
import { ConnectionTable } from '../proxy/connections.js';
import { DASHBOARD_CSP, DASHBOARD_FILES } from './dashboard-page.js';
import type { DashboardSnapshot } from './dashboard-state.js';

export interface AdminSources {
  readonly metrics: GatewayMetrics;
  readonly caPem: () => string;
  /** The rules of a format from the policy in force, or undefined for an unknown format. */
  readonly rules: (format: string) => Promise<string | undefined>;
  /** Named readiness checks; each answers true when that part is usable. */
  readonly checks: () => Readonly<Record<string, boolean>>;
  /** The live dashboard's data, and the token its page asks for (dashboard.tokenFile). */
  readonly dashboard: { readonly snapshot: () => DashboardSnapshot; readonly token: () => string | undefined };
}

/** Every route the admin listener answers, as the startup banner and its 404 list them. */
export const ADMIN_ROUTES = ['/ (the live dashboard)', '/healthz', '/readyz', '/metrics', '/ca.pem', '/rules/<format>'] as const;

/**
 * What the admin listener holds at once, in all and from one client address. One address may be
 * an ingress or reverse proxy in front of every viewer and scraper (audit.md), so it gets half.
 */
export const ADMIN_CONNECTION_LIMITS = { maxConnections: 64, maxConnectionsPerClient: 32 } as const;

/** Headers every dashboard answer carries: it is for people at a browser, never cached or framed. */
const DASHBOARD_HEADERS = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
} as const;

/**
 * The admin listener: /healthz (the process answers), /readyz (policy loaded, CA usable, proxy
 * listening), /metrics (Prometheus text format), /ca.pem (what clients must trust), and
 * /rules/<format> from the policy in force. Read-only: nothing here changes the gateway.
 */
export class AdminServer {
  private readonly server: Server;
  /**
   * Its clients are a scraper, probes and a browser or two, within the descriptors the gateway
   * keeps for itself (descriptors.ts RESERVED_DESCRIPTORS). Unbounded, one client opening idle
   * connections here (Node holds each for its 60 s headersTimeout) could take every descriptor
   * the process may open and reset every proxy client. A new connection past the cap closes the
   * one idle longest, so a hostile address cannot keep the probes out either.
   */
  private readonly connections = new ConnectionTable(() => ADMIN_CONNECTION_LIMITS);
  /** Set by listen(): a loopback listener serves the dashboard without a token. */
  private loopback = true;

  constructor(private readonly sources: AdminSources) {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('use GET\n');
        return;
      }
      const file = DASHBOARD_FILES.get(path);
      if (file || path === '/dashboard/state.json') {
        if (!this.dashboardAllowed(req, res)) return;
        if (file) res.writeHead(200, { ...DASHBOARD_HEADERS, 'content-type': file.type }).end(file.body);
        else res.writeHead(200, { ...DASHBOARD_HEADERS, 'content-type': 'application/json' }).end(JSON.stringify(sources.dashboard.snapshot()));
        return;
      }
      switch (path) {
        case '/healthz':
          res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
          return;
        case '/readyz': {
          const checks = sources.checks();
          const ready = Object.values(checks).every(Boolean);
          res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify({ ready, checks })}\n`);
          return;
        }
        case '/metrics':
          sources.metrics.scrape().then(
            (text) => res.writeHead(200, { 'content-type': sources.metrics.registry.contentType }).end(text),
            (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.message}\n`),
          );
          return;
        case '/ca.pem':
          res.writeHead(200, { 'content-type': 'application/x-pem-file', 'content-disposition': 'attachment; filename="idp-egress-ca.pem"' }).end(sources.caPem());
          return;
        default: {
          // Firewalls that poll a URL list (Palo Alto EDL and the like) fetch /rules/<format>.
          const notFound = () => res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: try ${ADMIN_ROUTES.join(', ')}\n`);
          if (!path?.startsWith('/rules/')) return void notFound();
          sources.rules(path.slice('/rules/'.length)).then(
            (rules) =>
              rules === undefined
                ? notFound()
                : res.writeHead(200, { 'content-type': path.endsWith('/json') ? 'application/json' : 'text/plain; charset=utf-8', 'cache-control': 'no-cache' }).end(rules),
            (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`rules failed: ${err.message}\n`),
          );
        }
      }
    });
    this.server.on('connection', (socket: Socket) => {
      if (!this.connections.admit(socket).ok) socket.destroy();
    });
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.connections.busy(req.socket);
      res.once('close', () => this.connections.done(req.socket));
    });
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const address = this.server.address() as AddressInfo;
    this.loopback = isLoopback(address.address);
    return address;
  }

  /** Answers the refusal itself when the dashboard may not be shown (dashboardAccess). */
  private dashboardAllowed(req: IncomingMessage, res: ServerResponse): boolean {
    const access = dashboardAccess(this.loopback, this.sources.dashboard.token(), req.headers.authorization);
    if (access === 'allow') return true;
    res.writeHead(access.status, { ...DASHBOARD_HEADERS, ...access.headers, 'content-type': 'text/plain; charset=utf-8' }).end(`${access.message}\n`);
    return false;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * Whether the dashboard may be shown. It tells who calls what and why it was refused, so on a
 * listener other hosts can reach only with the token: a browser sends it as the password of HTTP
 * Basic (RFC 7617), a script as a Bearer token (RFC 6750), compared in constant time. A token,
 * once set, is asked for on loopback too.
 */
export function dashboardAccess(
  loopback: boolean,
  token: string | undefined,
  authorization: string | undefined,
): 'allow' | { readonly status: 401 | 403; readonly headers: Readonly<Record<string, string>>; readonly message: string } {
  if (token === undefined) {
    if (loopback) return 'allow';
    return {
      status: 403,
      headers: {},
      message: 'the dashboard is off: this admin listener is reachable from other hosts and dashboard.tokenFile is not set; set it to a file holding a random token (openssl rand -hex 16), or bind admin to 127.0.0.1',
    };
  }
  const presented = presentedToken(authorization);
  if (presented !== undefined && sameSecret(presented, token)) return 'allow';
  return {
    status: 401,
    headers: { 'www-authenticate': 'Basic realm="idp-egress dashboard", charset="UTF-8"' },
    message: 'the dashboard needs the token in dashboard.tokenFile: as the password when the browser asks (any user name), or as Authorization: Bearer TOKEN',
  };
}

/** The token from Authorization: Basic (the password) or Bearer; undefined when there is none. */
function presentedToken(header: string | undefined): string | undefined {
  const m = /^(Basic|Bearer) +(\S+)$/i.exec(header ?? '');
  if (!m) return undefined;
  if (m[1]!.toLowerCase() === 'bearer') return m[2];
  const decoded = Buffer.from(m[2]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : decoded.slice(colon + 1);
}

/** Equal digests, compared in constant time: the length of the token does not leak either. */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(hash('sha256', a, 'buffer'), hash('sha256', b, 'buffer'));
}
