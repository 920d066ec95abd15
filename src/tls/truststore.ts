import { randomBytes, X509Certificate } from 'node:crypto';
import forge from 'node-forge';

const { asn1 } = forge;
const OID = {
  data: '1.2.840.113549.1.7.1',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  /**
   * Oracle's trustedKeyUsage attribute. Java treats a key-less certificate in a PKCS#12 file as
   * a trusted entry only when its bag carries this (keytool -importcert adds it, OpenSSL >= 3.2
   * with -jdktrust); without it the store lists 0 entries ("the trustAnchors parameter must be
   * non-empty"). forge's pkcs12 writer does not add it, so the bag is built here.
   */
  oracleTrustedKeyUsage: '2.16.840.1.113894.746875.1.1',
  anyExtendedKeyUsage: '2.5.29.37.0',
  sha1: '1.3.14.3.2.26',
} as const;

const MAC_ITERATIONS = 2048;

const oid = (id: string) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(id).getBytes());
const seq = (items: forge.asn1.Asn1[]) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
const set = (items: forge.asn1.Asn1[]) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, items);
const octets = (bytes: string) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, bytes);
const explicit0 = (inner: forge.asn1.Asn1) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [inner]);
const integer = (n: number) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(n).getBytes());
const der = (node: forge.asn1.Asn1) => asn1.toDer(node).getBytes();
// forge writes a BMPSTRING's value as UTF-16BE itself (PKCS#9 friendlyName is a BMPString).

/**
 * A PKCS#12 (RFC 7292) truststore holding one CA certificate as a Java trustedCertEntry, with an
 * HMAC-SHA1 integrity MAC under `password`. `keytool -list` shows it as trustedCertEntry.
 */
export function caTruststore(certPem: string, alias: string, password: string): Buffer {
  const certDer = Buffer.from(new X509Certificate(certPem).raw).toString('binary');
  const certBag = seq([
    oid(OID.certBag),
    explicit0(seq([oid(OID.x509Certificate), explicit0(octets(certDer))])),
    set([
      seq([oid(OID.friendlyName), set([asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BMPSTRING, false, alias)])]),
      seq([oid(OID.oracleTrustedKeyUsage), set([oid(OID.anyExtendedKeyUsage)])]),
    ]),
  ]);
  const safeContents = seq([certBag]);
  const authenticatedSafe = der(seq([seq([oid(OID.data), explicit0(octets(der(safeContents)))])]));

  const salt = randomBytes(20).toString('binary');
  const macKey = forge.pkcs12.generateKey(password, forge.util.createBuffer(salt), 3, MAC_ITERATIONS, 20);
  const hmac = forge.hmac.create();
  hmac.start('sha1', macKey);
  hmac.update(authenticatedSafe);
  const mac = hmac.digest().getBytes();

  const pfx = seq([
    integer(3),
    seq([oid(OID.data), explicit0(octets(authenticatedSafe))]),
    seq([seq([seq([oid(OID.sha1), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')]), octets(mac)]), octets(salt), integer(MAC_ITERATIONS)]),
  ]);
  return Buffer.from(der(pfx), 'binary');
}
