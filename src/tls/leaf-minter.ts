import { generateKeyPair } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import { promisify } from 'node:util';
import { LRUCache } from 'lru-cache';
import forge from 'node-forge';
import type { Ca } from './ca.js';
import { DAY_MS, forgePublicKey, randomSerial, signAsync } from './certificate.js';

/**
 * Leaf lifetime: 45 days from a notBefore one day in the past (clock skew). Chromium measures
 * the maximum validity as notAfter - notBefore, backdate included, on the CA/Browser Forum SC-081
 * schedule (200 days from 2026-03-15, 100 in 2027, 47 in 2029); 45 stays inside every step.
 */
export const LEAF_VALIDITY_DAYS = 45;
const BACKDATE_MS = DAY_MS;
/** Re-mint a cached leaf this long before it expires. */
const RENEW_BEFORE_MS = DAY_MS;

export interface MintedLeaf {
  readonly host: string;
  readonly certPem: string;
  readonly context: SecureContext;
  readonly notAfter: number;
}

export interface LeafMinterOptions {
  readonly cacheSize?: number;
  /** Called once per leaf actually minted (cache misses), for metrics and tests. */
  readonly onMint?: (host: string, ms: number) => void;
}

const generateRsa = promisify(generateKeyPair);

/**
 * Mints and caches leaf certificates for intercepted hosts. One RSA-2048 key, generated at
 * start, serves every leaf: minting then costs one signature, not one key generation.
 */
export class LeafMinter {
  private readonly cache: LRUCache<string, MintedLeaf>;
  private readonly inFlight = new Map<string, Promise<MintedLeaf>>();

  private constructor(
    private readonly ca: Ca,
    private readonly leafKeyPem: string,
    private readonly leafPublic: forge.pki.PublicKey,
    private readonly options: LeafMinterOptions,
  ) {
    this.cache = new LRUCache({ max: options.cacheSize ?? 1000 });
  }

  static async create(ca: Ca, options: LeafMinterOptions = {}): Promise<LeafMinter> {
    const { privateKey, publicKey } = await generateRsa('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    return new LeafMinter(ca, pem, forgePublicKey(publicKey), options);
  }

  get size(): number {
    return this.cache.size;
  }

  /**
   * Mints the leaves for these names now, so no request waits for one: the gateway knows every
   * host it will intercept from its policy. Failures are left for the request that needs the leaf.
   */
  prepare(names: readonly string[]): void {
    for (const name of names) this.contextFor(name).catch(() => undefined);
  }

  /**
   * The TLS context for `host` (a name, or a one-label wildcard such as `*.okta.com`), minted
   * once; concurrent callers for one name share one mint. A leaf in its last day is renewed in
   * the background and served until the new one is ready, so no CONNECT waits for a renewal;
   * only an expired leaf is never served.
   */
  async contextFor(host: string): Promise<MintedLeaf> {
    const cached = this.cache.get(host);
    const now = Date.now();
    if (cached && cached.notAfter - now > RENEW_BEFORE_MS) return cached;
    let pending = this.inFlight.get(host);
    if (!pending) {
      pending = this.mint(host).finally(() => this.inFlight.delete(host));
      this.inFlight.set(host, pending);
    }
    if (cached && cached.notAfter > now) {
      // A failed renewal is retried by the next caller; nobody awaits this one.
      pending.catch(() => undefined);
      return cached;
    }
    return pending;
  }

  private async mint(host: string): Promise<MintedLeaf> {
    const started = performance.now();
    const cert = forge.pki.createCertificate();
    cert.publicKey = this.leafPublic;
    cert.serialNumber = randomSerial();
    const notBefore = Date.now() - BACKDATE_MS;
    const notAfter = notBefore + LEAF_VALIDITY_DAYS * DAY_MS;
    cert.validity.notBefore = new Date(notBefore);
    cert.validity.notAfter = new Date(notAfter);
    // Subject left empty: names live in the SAN, which is then critical (RFC 5280 section 4.2.1.6).
    cert.setSubject([]);
    cert.setIssuer(this.ca.subject);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: host }], critical: true },
      // Python >= 3.13 (VERIFY_X509_STRICT) and `openssl verify -x509_strict` reject a leaf
      // without an AKI. No SKI on the leaf: SChannel breaks when leaf and CA share one
      // (mitmproxy issue 6494).
      { name: 'authorityKeyIdentifier', keyIdentifier: this.ca.subjectKeyId },
    ]);
    const certPem = await signAsync(cert, this.ca.key);
    // The leaf alone: the CA is the clients' trust anchor, which a server need not send
    // (RFC 8446 section 4.4.2), and each extra certificate costs a parse here and bytes on the wire.
    const context = createSecureContext({ key: this.leafKeyPem, cert: certPem });
    const leaf: MintedLeaf = { host, certPem, context, notAfter };
    this.cache.set(host, leaf);
    this.options.onMint?.(host, performance.now() - started);
    return leaf;
  }
}
