import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

/**
 * A corporate parent proxy stand-in: CONNECT only, every tunnel to one loopback port, and a
 * record of the authorities it was asked for. With `credentials` (user:password) it answers 407
 * to a CONNECT without them, as corporate proxies do.
 */
export class ParentProxy {
  readonly connects: string[] = [];
  /** Tunnels are no longer the HTTP server's connections, so close() ends them itself. */
  private readonly tunnels = new Set<Socket>();
  /** Where every tunnel goes; settable after start, once the fake provider's port is known. */
  targetPort = 0;
  private constructor(private readonly server: Server) {}

  static async start(credentials?: string): Promise<ParentProxy> {
    const server = createServer((_req, res) => res.writeHead(405).end());
    const parent = new ParentProxy(server);
    const expected = credentials ? `Basic ${Buffer.from(credentials).toString('base64')}` : undefined;
    server.on('connect', (req, client: Socket, head: Buffer) => {
      if (expected && req.headers['proxy-authorization'] !== expected) {
        client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      parent.connects.push(req.url ?? '');
      const upstream = connect(parent.targetPort, '127.0.0.1', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length > 0) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      for (const s of [client, upstream]) {
        parent.tunnels.add(s);
        s.once('close', () => parent.tunnels.delete(s));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return parent;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    for (const s of this.tunnels) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
