import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Ca } from '../../src/tls/ca.js';
import { serverCert } from './pki.js';

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly host: string | undefined;
  readonly servername: string | undefined;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly rawHeaders: string[];
  readonly body: string;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/**
 * One HTTPS server on 127.0.0.1 standing in for every provider host: a certificate naming all
 * of them, and handlers by "METHOD path-prefix". Unmatched requests get a JSON 200 echo.
 */
export class FakeProvider {
  readonly seen: SeenRequest[] = [];
  /** Every byte any client sent, decrypted, in arrival order: what a smuggled request would show in. */
  received = '';
  /** TLS connections accepted, and how many of them are still open. */
  connections = 0;
  open = 0;
  private readonly handlers: [string, Handler][] = [];
  private server: Server | undefined;

  /** `port` 0 picks a free one; Squid tests need 443, where the URLs it dials point. */
  static async start(ca: Ca, hosts: readonly string[], port = 0, validity: Parameters<typeof serverCert>[2] = {}): Promise<FakeProvider> {
    const p = new FakeProvider();
    const tls = serverCert(ca, hosts, validity);
    // Offers h2 first, as Graph, Google and Okta do: a client that also offers h2 gets it, and then
    // fails here (this server speaks HTTP/1.1 only), so a dialler that must speak HTTP/1.1 is held
    // to offering only that (regression: undici 8's connector offers h2 unless told not to).
    p.server = createServer({ ...tls, keepAliveTimeout: 5_000, ALPNProtocols: ['h2', 'http/1.1'] }, (req, res) => p.onRequest(req, res));
    p.server.on('secureConnection', (socket) => {
      p.connections++;
      p.open++;
      socket.on('data', (chunk: Buffer) => (p.received += chunk.toString('latin1')));
      socket.once('close', () => p.open--);
    });
    await new Promise<void>((resolve, reject) => {
      p.server!.once('error', reject);
      p.server!.listen(port, '127.0.0.1', resolve);
    });
    return p;
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port;
  }

  /** Handles requests whose "METHOD /path" starts with `prefix`; later registrations win. */
  on(prefix: string, handler: Handler): this {
    this.handlers.unshift([prefix, handler]);
    return this;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      this.seen.push({
        method: req.method!,
        url: req.url!,
        host: req.headers.host,
        servername: (req.socket as { servername?: string }).servername,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body,
      });
      const key = `${req.method} ${req.url}`;
      const handler = this.handlers.find(([prefix]) => key.startsWith(prefix))?.[1];
      if (handler) return handler(req, res, body);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, method: req.method, url: req.url, host: req.headers.host }));
    });
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

/**
 * Writes `total` bytes to `res` in 64 KiB chunks as fast as the path to the client takes them
 * (waiting for 'drain' whenever a write is refused), then ends it; `sent` hears the running total.
 */
export function pumpBytes(res: ServerResponse, total: number, sent?: (bytes: number) => void): void {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let written = 0;
  const pump = () => {
    while (written < total) {
      written += chunk.length;
      sent?.(written);
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}
