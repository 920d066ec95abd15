/**
 * The benchmark's syslog collector stand-in, run as its own process: a TLS server on 127.0.0.1
 * (RFC 5425) that reads and discards what it is sent, as fast as it comes, so the bench measures
 * what delivery costs the gateway, not a collector's speed. argv: key.pem cert.pem; prints its
 * port on stdout.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:tls';

const server = createServer({ key: readFileSync(process.argv[2]!), cert: readFileSync(process.argv[3]!) }, (socket) => {
  socket.on('data', () => {});
  socket.on('error', () => socket.destroy());
});
server.listen(0, '127.0.0.1', () => console.log((server.address() as AddressInfo).port));
process.on('SIGTERM', () => process.exit(0));
