import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GatewayMetrics } from '../audit/metrics.js';

export interface AdminSources {
  readonly metrics: GatewayMetrics;
  readonly caPem: () => string;
  /** The rules of a format from the policy in force, or undefined for an unknown format. */
  readonly rules: (format: string) => Promise<string | undefined>;
  /** Named readiness checks; each answers true when that part is usable. */
  readonly checks: () => Readonly<Record<string, boolean>>;
}

/** Every route the admin listener answers, as the startup banner and its 404 list them. */
export const ADMIN_ROUTES = ['/healthz', '/readyz', '/metrics', '/ca.pem', '/rules/<format>'] as const;

/**
 * The admin listener: /healthz (the process answers), /readyz (policy loaded, CA usable, proxy
 * listening), /metrics (Prometheus text format), /ca.pem (what clients must trust), and
 * /rules/<format> from the policy in force. Read-only: nothing here changes the gateway.
 */
export class AdminServer {
  private readonly server: Server;

  constructor(sources: AdminSources) {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('use GET\n');
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
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
