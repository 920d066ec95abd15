import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { createCa, loadCa, writeCa, type Ca } from '../../src/tls/ca.js';
import { DAY_MS, forgePublicKey, randomSerial, signSync } from '../../src/tls/certificate.js';

/**
 * A CA made at test time (never a committed, dated PEM), written to a fresh folder under `parent`
 * (the benchmarks give their run's folder, which they remove at the end).
 */
export async function testCa(name = 'idp-egress test provider CA', parent = tmpdir()): Promise<{ ca: Ca; dir: string; certFile: string }> {
  const dir = mkdtempSync(join(parent, 'idp-egress-pki-'));
  const paths = { cert: join(dir, 'ca.pem'), key: join(dir, 'ca-key.pem') };
  writeCa(paths, await createCa(name));
  return { ca: loadCa(paths), dir, certFile: paths.cert };
}

/** A server certificate for `hosts`, signed by `ca`, as PEM key and chain for https.createServer. */
export function serverCert(ca: Ca, hosts: readonly string[], options: { notBefore?: Date; notAfter?: Date; clientAuth?: boolean } = {}): { key: string; cert: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forgePublicKey(publicKey);
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = options.notBefore ?? new Date(Date.now() - DAY_MS);
  cert.validity.notAfter = options.notAfter ?? new Date(Date.now() + 30 * DAY_MS);
  cert.setSubject([{ name: 'commonName', value: hosts[0]! }]);
  cert.setIssuer(ca.subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: options.clientAuth === true },
    { name: 'subjectAltName', altNames: hosts.map((value) => ({ type: 2, value })) },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.subjectKeyId },
  ]);
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), cert: signSync(cert, ca.key) };
}
