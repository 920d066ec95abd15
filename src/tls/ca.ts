import { createPrivateKey, generateKeyPair, X509Certificate, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { DAY_MS, forgePublicKey, randomSerial, signSync } from './certificate.js';

/** The interception CA: what leaves are signed with, and what clients must trust. */
export interface Ca {
  readonly certPem: string;
  readonly cert: X509Certificate;
  readonly key: KeyObject;
  /** The CA's subject, copied verbatim into each leaf's issuer. */
  readonly subject: forge.pki.CertificateField[];
  /**
   * The CA's stored subject key identifier. Leaves copy it into their authority key identifier
   * rather than recomputing it, so a CA whose SKI is not SHA-1 of its key still chains
   * (mitmproxy certs.py does the same).
   */
  readonly subjectKeyId: string;
}

export interface CaPaths {
  readonly cert: string;
  readonly key: string;
}

const CA_VALIDITY_YEARS = 10;

const generateRsa = promisify(generateKeyPair);

/** Creates a new CA: RSA 2048, basicConstraints CA:TRUE and keyCertSign/cRLSign, both critical. */
export async function createCa(commonName = `idp-egress interception CA (${hostname()})`): Promise<{ certPem: string; keyPem: string }> {
  const { privateKey, publicKey } = await generateRsa('rsa', { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forgePublicKey(publicKey);
  cert.serialNumber = randomSerial();
  const now = Date.now();
  cert.validity.notBefore = new Date(now - DAY_MS);
  cert.validity.notAfter = new Date(now + CA_VALIDITY_YEARS * 365 * DAY_MS);
  const subject = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'idp-egress' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  return { certPem: signSync(cert, privateKey), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** Writes a CA pair; the key file is created with mode 0600 and never world-readable. */
export function writeCa(paths: CaPaths, ca: { certPem: string; keyPem: string }): void {
  mkdirSync(dirname(paths.cert), { recursive: true });
  mkdirSync(dirname(paths.key), { recursive: true });
  writeFileSync(paths.key, ca.keyPem, { mode: 0o600 });
  chmodSync(paths.key, 0o600);
  writeFileSync(paths.cert, ca.certPem, { mode: 0o644 });
}

/** Loads the CA from its files; the caller decides what a missing file means. */
export function loadCa(paths: CaPaths): Ca {
  const certPem = readFileSync(paths.cert, 'utf8');
  const key = createPrivateKey(readFileSync(paths.key, 'utf8'));
  const cert = new X509Certificate(certPem);
  if (!cert.ca) throw new Error(`${paths.cert} is not a CA certificate (basicConstraints CA:TRUE is missing)`);
  if (!cert.checkPrivateKey(key)) throw new Error(`${paths.key} is not the private key of ${paths.cert}`);
  if (key.asymmetricKeyType !== 'rsa') throw new Error(`${paths.key}: the CA key must be RSA (node-forge builds RSA certificates only)`);
  // Our own CA file, trusted local material: forge may read it to copy subject and SKI exactly.
  const forgeCert = forge.pki.certificateFromPem(certPem);
  const ski = forgeCert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | undefined;
  // Without a stored SKI, RFC 5280 section 4.2.1.2 method 1: SHA-1 of the public key bits.
  const subjectKeyId = ski?.subjectKeyIdentifier
    ? forge.util.hexToBytes(ski.subjectKeyIdentifier)
    : forge.pki.getPublicKeyFingerprint(forgeCert.publicKey).getBytes();
  return { certPem, cert, key, subject: forgeCert.subject.attributes, subjectKeyId };
}

export type EnsureResult = { readonly ca: Ca; readonly created: boolean };

/** Loads the CA, creating it first when neither file exists (first `serve`). */
export async function ensureCa(paths: CaPaths): Promise<EnsureResult> {
  const haveCert = existsSync(paths.cert);
  const haveKey = existsSync(paths.key);
  if (haveCert !== haveKey) {
    throw new Error(`found ${haveCert ? paths.cert : paths.key} but not ${haveCert ? paths.key : paths.cert}; restore the missing file or run idp-egress ca init --force`);
  }
  if (!haveCert) {
    const created = await createCa();
    try {
      writeCa(paths, created);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new Error(`cannot create the interception CA at ${paths.cert}: ${e.code ?? e.message} on ${e.path ?? paths.cert}; run the gateway as a user that may write there, or set ca.cert and ca.key to a writable place`);
    }
    return { ca: loadCa(paths), created: true };
  }
  return { ca: loadCa(paths), created: false };
}
