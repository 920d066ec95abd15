import { randomBytes, sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

/**
 * node-forge builds certificate structures; node:crypto signs them. forge's own RSA signing is
 * pure JS (~52 ms per leaf, blocking the event loop); crypto.sign is OpenSSL (~1.5 ms) and runs
 * on the threadpool when given a callback. forge never parses anything a client sent.
 */

export const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * A random positive serial of 16 octets (RFC 5280 §4.1.2.2 allows up to 20). Its first octet is
 * 0x01-0x7f: a high bit would make it negative, and a zero one is a padding octet that forge's
 * DER writer removes only once, so a serial starting 00 00 (then below 0x80) came out in a
 * non-minimal form (X.690 §8.3.2) that OpenSSL 3 refuses to load ("illegal padding"): about one
 * CA or leaf in 65,536 could not be used before.
 */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) || 0x01;
  return bytes.toString('hex');
}

export function forgePublicKey(key: KeyObject): forge.pki.PublicKey {
  return forge.pki.publicKeyFromPem(key.export({ type: 'spki', format: 'pem' }).toString());
}

function prepare(cert: forge.pki.Certificate): Buffer {
  cert.siginfo.algorithmOid = forge.pki.oids['sha256WithRSAEncryption']!;
  (cert as unknown as { signatureOid: string }).signatureOid = forge.pki.oids['sha256WithRSAEncryption']!;
  // getTBSCertificate exists in node-forge but is missing from @types/node-forge 1.3.
  const tbs = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(cert);
  return Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary');
}

function finish(cert: forge.pki.Certificate, signature: Buffer): string {
  (cert as unknown as { signature: string }).signature = signature.toString('binary');
  return forge.pki.certificateToPem(cert);
}

export function signSync(cert: forge.pki.Certificate, caKey: KeyObject): string {
  return finish(cert, sign('sha256', prepare(cert), caKey));
}

export function signAsync(cert: forge.pki.Certificate, caKey: KeyObject): Promise<string> {
  const tbs = prepare(cert);
  return new Promise((resolve, reject) => {
    sign('sha256', tbs, caKey, (err, signature) => (err ? reject(err) : resolve(finish(cert, signature))));
  });
}
