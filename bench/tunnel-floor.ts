/**
 * The tunnel path's floor: a CONNECT proxy made of the parts the gateway's tunnel mode is made of
 * and nothing else. node:http parses the CONNECT, net.connect dials the provider, and the bytes
 * go client to provider by pipe() and back through the gateway's own relay (tunnel-relay.ts),
 * as in Gateway.splice. No policy, SNI check, idle timer, limits, audit or metrics, so never a
 * proxy to deploy: the yardstick for what Node itself costs a tunnelled request, run in the
 * anchors harness beside Squid's tunnel (bench/anchors/node-tunnel-floor.sh).
 * argv: upstream-address upstream-port [listen-port]; every CONNECT goes to the one upstream.
 * Prints "listening on 127.0.0.1:PORT" on stderr.
 */
import { createServer } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { ProviderToClient } from '../src/proxy/tunnel-relay.js';

const [upstreamAddress, upstreamPort, listenPort = '0'] = process.argv.slice(2) as [string, string, string?];

const outer = createServer();
outer.on('connect', (_req, client: Socket, head: Buffer) => {
  const relay = new ProviderToClient();
  const provider = connect({ host: upstreamAddress, port: Number(upstreamPort), noDelay: true, onread: relay.onread });
  relay.hold(provider);
  provider.once('connect', () => {
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) provider.write(head);
    client.pipe(provider);
    relay.start(client);
  });
  const close = () => (client.destroy(), provider.destroy());
  provider.on('error', close);
  client.on('error', close);
  client.on('close', close);
  provider.on('close', close);
});
outer.listen(Number(listenPort), '127.0.0.1', () => console.error(`listening on 127.0.0.1:${(outer.address() as AddressInfo).port}`));
process.on('SIGTERM', () => process.exit(0));
