import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import { runCli } from '../../../src/cli/program.js';
import { ensureCa } from '../../../src/tls/ca.js';
import { DAY_MS } from '../../../src/tls/certificate.js';
import { LEAF_VALIDITY_DAYS, LeafMinter } from '../../../src/tls/leaf-minter.js';
import { caTruststore } from '../../../src/tls/truststore.js';
import { testCa } from '../../support/pki.js';
import { needs } from '../../support/tools.js';

const run = promisify(execFile);

const OPENSSL = needs(['openssl'], 'apt-get install openssl');
const KEYTOOL = needs(['keytool'], 'apt-get install openjdk-17-jdk-headless');

describe('interception CA', () => {
  it.skipIf(OPENSSL.skip)(`is created once with a 0600 key, CA:TRUE and keyCertSign, then loaded${OPENSSL.why}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ca-'));
    const paths = { cert: join(dir, 'certs/ca.pem'), key: join(dir, 'certs/ca-key.pem') };
    const first = await ensureCa(paths);
    expect(first.created).toBe(true);
    expect(statSync(paths.key).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(readFileSync(paths.cert));
    expect(cert.ca).toBe(true);
    expect(cert.checkIssued(cert)).toBe(true);
    const text = (await run('openssl', ['x509', '-in', paths.cert, '-noout', '-text'])).stdout;
    expect(text).toMatch(/X509v3 Basic Constraints: critical\n\s+CA:TRUE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\n\s+Certificate Sign, CRL Sign/);
    const second = await ensureCa(paths);
    expect(second.created).toBe(false);
    expect(second.ca.certPem).toBe(first.ca.certPem);
  });

  it('refuses to run with half a CA', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ca-'));
    writeFileSync(join(dir, 'ca.pem'), 'x');
    await expect(ensureCa({ cert: join(dir, 'ca.pem'), key: join(dir, 'ca-key.pem') })).rejects.toThrow(/found .*ca\.pem but not .*ca-key\.pem; restore the missing file or run idp-egress ca init --force/);
  });
});

describe('leaf certificates', () => {
  it.skipIf(OPENSSL.skip)(`have the profile strict clients need: SAN only, AKI, no CA, 45 days backdated one day${OPENSSL.why}`, async () => {
    const { ca, certFile } = await testCa();
    const minter = await LeafMinter.create(ca);
    const leaf = await minter.contextFor('graph.microsoft.com');
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.subjectAltName).toBe('DNS:graph.microsoft.com');
    expect(cert.subject ?? '').toBe(''); // Node reports an empty subject as undefined
    expect(cert.ca).toBe(false);
    expect(cert.verify(ca.cert.publicKey)).toBe(true);
    expect(cert.issuer).toBe(ca.cert.subject);
    const notBefore = Date.parse(cert.validFrom);
    expect(Date.parse(cert.validTo) - notBefore).toBe(LEAF_VALIDITY_DAYS * DAY_MS);
    expect(Math.abs(Date.now() - DAY_MS - notBefore)).toBeLessThan(60_000);
    const dir = mkdtempSync(join(tmpdir(), 'leaf-'));
    writeFileSync(join(dir, 'leaf.pem'), leaf.certPem);
    // -x509_strict is what Python >= 3.13 enforces; it fails without an authority key identifier.
    const verified = await run('openssl', ['verify', '-x509_strict', '-CAfile', certFile, join(dir, 'leaf.pem')]);
    expect(verified.stdout.trim()).toBe(`${join(dir, 'leaf.pem')}: OK`);
    const text = (await run('openssl', ['x509', '-in', join(dir, 'leaf.pem'), '-noout', '-text'])).stdout;
    expect(text).toContain('X509v3 Authority Key Identifier');
    expect(text).not.toContain('X509v3 Subject Key Identifier');
    expect(text).toMatch(/X509v3 Subject Alternative Name: critical/);
  });

  it('are minted once for concurrent requests to one host, and cached within a bound', async () => {
    const { ca } = await testCa();
    const mints: string[] = [];
    const minter = await LeafMinter.create(ca, { cacheSize: 2, onMint: (host) => mints.push(host) });
    const leaves = await Promise.all(Array.from({ length: 10 }, () => minter.contextFor('acme.okta.com')));
    expect(mints).toEqual(['acme.okta.com']);
    expect(new Set(leaves.map((l) => l.certPem)).size).toBe(1);
    await minter.contextFor('a.example');
    await minter.contextFor('b.example');
    expect(minter.size).toBe(2);
    await minter.contextFor('acme.okta.com');
    expect(mints).toEqual(['acme.okta.com', 'a.example', 'b.example', 'acme.okta.com']);
  });

  it('are renewed in their last day without making anyone wait, and never served expired', async () => {
    const { ca } = await testCa();
    const mints: string[] = [];
    const minter = await LeafMinter.create(ca, { onMint: (host) => mints.push(host) });
    const first = await minter.contextFor('acme.okta.com');
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(first.notAfter - DAY_MS / 2);
      expect(await minter.contextFor('acme.okta.com')).toBe(first);
      await expect.poll(() => mints.length).toBe(2);
      const renewed = await minter.contextFor('acme.okta.com');
      expect(renewed.notAfter).toBeGreaterThan(first.notAfter);
      vi.setSystemTime(renewed.notAfter + 1);
      const afterExpiry = await minter.contextFor('acme.okta.com');
      expect(mints).toHaveLength(3);
      expect(afterExpiry.notAfter).toBeGreaterThan(Date.now());
    } finally {
      vi.useRealTimers();
    }
  });
});

describe.skipIf(KEYTOOL.skip)(`Java truststore${KEYTOOL.why}`, () => {
  it('lists the CA as a trustedCertEntry in keytool', async () => {
    const { ca } = await testCa();
    const dir = mkdtempSync(join(tmpdir(), 'p12-'));
    writeFileSync(join(dir, 'trust.p12'), caTruststore(ca.certPem, 'idp-egress-ca', 'changeit'));
    const { stdout } = await run('keytool', ['-list', '-keystore', join(dir, 'trust.p12'), '-storepass', 'changeit', '-storetype', 'PKCS12']);
    expect(stdout).toContain('Your keystore contains 1 entry');
    expect(stdout).toMatch(/^idp-egress-ca, .*, trustedCertEntry,/m);
    expect(stdout).toContain(ca.cert.fingerprint256);
  });

  it('refuses a wrong store password (the MAC is checked)', async () => {
    const { ca } = await testCa();
    const dir = mkdtempSync(join(tmpdir(), 'p12-'));
    writeFileSync(join(dir, 'trust.p12'), caTruststore(ca.certPem, 'idp-egress-ca', 'changeit'));
    const r = await run('keytool', ['-list', '-keystore', join(dir, 'trust.p12'), '-storepass', 'wrong-pass', '-storetype', 'PKCS12']).catch((e: { stdout: string }) => e);
    expect(r.stdout).toMatch(/password was incorrect|integrity check failed/i);
  });
});

describe('idp-egress ca and jvm', () => {
  async function cli(args: string[], cwd: string) {
    let out = '';
    let err = '';
    const status = await runCli(args, { out: (t) => (out += t), err: (t) => (err += t), cwd });
    return { status, out, err };
  }

  it('ca init creates a CA and refuses to replace it without --force', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'cli-ca-'));
    const first = await cli(['ca', 'init'], cwd);
    expect(first.status).toBe(0);
    expect(first.out).toContain(`created ${join(cwd, 'certs/ca.pem')} and ${join(cwd, 'certs/ca-key.pem')} (mode 0600)`);
    const pem = readFileSync(join(cwd, 'certs/ca.pem'), 'utf8');
    const again = await cli(['ca', 'init'], cwd);
    expect(again.status).toBe(1);
    expect(again.err).toContain('already exist; every client that trusts the current CA would have to trust the new one.');
    expect(readFileSync(join(cwd, 'certs/ca.pem'), 'utf8')).toBe(pem);
    expect((await cli(['ca', 'init', '--force'], cwd)).status).toBe(0);
    expect(readFileSync(join(cwd, 'certs/ca.pem'), 'utf8')).not.toBe(pem);
  });

  it.skipIf(KEYTOOL.skip)(`ca export writes PEM to stdout, DER and PKCS#12 to files, never the key${KEYTOOL.why}`, async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'cli-ca-'));
    await cli(['ca', 'init'], cwd);
    const pem = await cli(['ca', 'export'], cwd);
    expect(pem.out).toBe(readFileSync(join(cwd, 'certs/ca.pem'), 'utf8'));
    expect(pem.out).not.toContain('PRIVATE KEY');
    expect((await cli(['ca', 'export', '--format', 'der', '--out', 'ca.der'], cwd)).status).toBe(0);
    expect(new X509Certificate(readFileSync(join(cwd, 'ca.der'))).fingerprint256).toBe(new X509Certificate(pem.out).fingerprint256);
    expect((await cli(['ca', 'export', '--format', 'p12', '--out', 'trust.p12'], cwd)).status).toBe(0);
    const { stdout } = await run('keytool', ['-list', '-keystore', join(cwd, 'trust.p12'), '-storepass', 'changeit']);
    expect(stdout).toMatch(/^idp-egress-ca, .*trustedCertEntry/m);
    const binary = await cli(['ca', 'export', '--format', 'der'], cwd);
    expect(binary.status).toBe(1);
    expect(binary.err).toContain('der is binary; give --out FILE');
  });

  it('jvm prints the proxy flags for the configured listener and the keytool import', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'cli-jvm-'));
    writeFileSync(join(cwd, 'idp-egress.yaml'), 'listen: 0.0.0.0:3130\n');
    const r = await cli(['jvm', '--proxy-host', 'egress.corp.example'], cwd);
    expect(r.out).toContain(`JVM_SUPPORT_RECOMMENDED_ARGS="-Dhttps.proxyHost=egress.corp.example -Dhttps.proxyPort=3130 -Dhttp.nonProxyHosts='localhost|127.*|[::1]'"`);
    expect(r.out).toContain(`-file ${join(cwd, 'certs/ca.pem')} -keystore <install>/jre/lib/security/cacerts -storepass changeit`);
    const unnamed = await cli(['jvm'], cwd);
    expect(unnamed.out).toContain('-Dhttps.proxyHost=<gateway-host> -Dhttps.proxyPort=3130');
  });
});
