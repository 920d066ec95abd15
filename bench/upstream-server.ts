/**
 * The benchmark's provider stand-in, run as its own process: an HTTPS server on 127.0.0.1 that
 * answers every request with a small JSON page (the size of a Graph users page of 10 users).
 * argv: key.pem cert.pem; prints its port on stdout.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';

const body = JSON.stringify({
  '@odata.nextLink': 'https://graph.microsoft.com/v1.0/users?$skiptoken=X%274453707402000100000017%27',
  value: Array.from({ length: 10 }, (_, i) => ({ id: `6e7b768e-07e2-4810-8459-${String(i).padStart(12, '0')}`, userPrincipalName: `user${i}@contoso.com`, mail: `user${i}@contoso.com` })),
});
const server = createServer({ key: readFileSync(process.argv[2]!), cert: readFileSync(process.argv[3]!), keepAliveTimeout: 30_000 }, (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => console.log((server.address() as AddressInfo).port));
process.on('SIGTERM', () => process.exit(0));
