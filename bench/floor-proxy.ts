/**
 * The benchmark's floor: an intercepting proxy made of the parts the gateway's intercept path is
 * made of and nothing else. CONNECT answered 200 at once, TLS terminated with one fixed
 * certificate, requests parsed by node:http inside the tunnel and sent on by an undici Agent,
 * responses written back as they come. No policy, SNI check, header hygiene, timeouts, audit
 * or metrics, so never a proxy to deploy: only the yardstick for what those cost.
 * argv: key.pem cert.pem upstream-ca.pem upstream-port [upstream-address (127.0.0.1)] [listen-port];
 * prints "listening on 127.0.0.1:PORT" on stderr. The anchors harness runs it beside Squid ssl_bump
 * (bench/anchors/node-floor.sh).
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';
import { Agent, type Dispatcher } from 'undici';

const [keyFile, certFile, upstreamCaFile, upstreamPort, upstreamAddress = '127.0.0.1', listenPort = '0'] = process.argv.slice(2) as [string, string, string, string, string?, string?];
const leaf = createSecureContext({ key: readFileSync(keyFile), cert: readFileSync(certFile) });
const toUpstream = (_h: string, _o: unknown, cb: (e: null, a: { address: string; family: number }[]) => void) => cb(null, [{ address: upstreamAddress, family: 4 }]);
// HTTP/1.1 to the upstream, as the gateway dials (src/proxy/upstream.ts).
const upstream = new Agent({ connect: { ca: readFileSync(upstreamCaFile), lookup: toUpstream as never, allowH2: false }, allowH2: false });

const inner = createServer((req, res) => {
  upstream.dispatch(
    { origin: `https://${req.headers.host}:${upstreamPort}`, path: req.url!, method: req.method as Dispatcher.HttpMethod, headers: { accept: req.headers.accept ?? '*/*' } },
    {
      // undici takes a handler as the new (controller) kind only when it has onRequestStart.
      onRequestStart() {},
      onResponseStart(controller, statusCode) {
        res.writeHead(statusCode, (controller.rawHeaders as Buffer[]).map((h) => h.toString('latin1')));
      },
      onResponseData(controller, chunk) {
        if (!res.write(chunk)) {
          controller.pause();
          res.once('drain', () => controller.resume());
        }
      },
      onResponseEnd() {
        res.end();
      },
      onResponseError(_controller, err) {
        res.destroy(err);
      },
    },
  );
});

const outer = createServer();
outer.on('connect', (_req, socket: Socket, head: Buffer) => {
  socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  if (head.length > 0) socket.unshift(head);
  inner.emit('connection', new TLSSocket(socket, { isServer: true, secureContext: leaf, ALPNProtocols: ['http/1.1'] }));
});
outer.listen(Number(listenPort), '127.0.0.1', () => console.error(`listening on 127.0.0.1:${(outer.address() as AddressInfo).port}`));
process.on('SIGTERM', () => process.exit(0));
