// Serial numbers: positive and in DER's minimal form, or OpenSSL refuses the certificate. A run of
// the suite once failed to start a fake provider with "illegal padding": its serial began 00 00,
// and forge's DER writer drops one padding octet, not two. The gateway's CA and leaves draw their
// serials from the same function.
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { DAY_MS, forgePublicKey, randomSerial, signSync } from '../../../src/tls/certificate.js';
import { testCa } from '../../support/pki.js';

describe('randomSerial', () => {
  it('starts with an octet from 0x01 to 0x7f, every time', () => {
    for (let i = 0; i < 20_000; i++) {
      const first = parseInt(randomSerial().slice(0, 2), 16);
      expect(first >= 0x01 && first <= 0x7f, `serial ${i}`).toBe(true);
    }
  });

  it('gives certificates OpenSSL loads, where a serial starting 00 00 is refused', async () => {
    const { ca } = await testCa('serial test CA');
    const key = ca.key.export({ type: 'pkcs8', format: 'pem' });
    const certWith = (serial: string) => {
      const cert = forge.pki.createCertificate();
      cert.publicKey = forgePublicKey(ca.cert.publicKey);
      cert.serialNumber = serial;
      cert.validity.notBefore = new Date(Date.now() - DAY_MS);
      cert.validity.notAfter = new Date(Date.now() + DAY_MS);
      cert.setSubject([{ name: 'commonName', value: 'serial.test' }]);
      cert.setIssuer(ca.subject);
      return signSync(cert, ca.key);
    };
    // A TLS context reads a certificate as a server (and the gateway) loads it.
    const load = (pem: string) => createSecureContext({ cert: pem, key });
    expect(() => load(certWith(`0000${'7f'.repeat(14)}`))).toThrow(/illegal padding/);
    for (let i = 0; i < 20; i++) {
      const serial = randomSerial();
      const pem = certWith(serial);
      expect(() => load(pem)).not.toThrow();
      expect(new X509Certificate(pem).serialNumber.toLowerCase()).toBe(serial);
    }
  });
});
