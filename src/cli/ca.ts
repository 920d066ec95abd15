import { X509Certificate } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadSiteConfig } from '../config/load.js';
import { caPathsOf } from '../serve.js';
import { createCa, loadCa, writeCa } from '../tls/ca.js';
import { caTruststore } from '../tls/truststore.js';
import { EXIT, type CliIo } from './io.js';

export const CA_EXPORT_FORMATS = ['pem', 'der', 'p12'] as const;
export type CaExportFormat = (typeof CA_EXPORT_FORMATS)[number];

/** `idp-egress ca init`: a new interception CA; refuses to replace one without --force. */
export async function runCaInit(configFile: string | undefined, force: boolean, io: CliIo): Promise<number> {
  const paths = caPathsOf(loadSiteConfig(configFile, io.cwd));
  const existing = [paths.cert, paths.key].filter((p) => existsSync(p));
  if (existing.length > 0 && !force) {
    io.err(`idp-egress: ${existing.join(' and ')} already exist${existing.length === 1 ? 's' : ''}; every client that trusts the current CA would have to trust the new one.\n  Run with --force to replace it.\n`);
    return EXIT.ERROR;
  }
  writeCa(paths, await createCa());
  const cert = new X509Certificate(loadCa(paths).certPem);
  io.out(`created ${paths.cert} and ${paths.key} (mode 0600)\n  subject:     ${cert.subject.replace(/\n/g, ', ')}\n  valid until: ${cert.validTo}\n  sha256:      ${cert.fingerprint256}\n`);
  io.out('next: `idp-egress jvm` prints how to make the Atlassian server trust it\n');
  return EXIT.OK;
}

export interface CaExportOptions {
  readonly format: CaExportFormat;
  readonly out?: string | undefined;
  readonly password: string;
  readonly alias: string;
}

/** `idp-egress ca export`: the CA certificate (never the key) as PEM, DER or a Java PKCS#12 truststore. */
export function runCaExport(configFile: string | undefined, options: CaExportOptions, io: CliIo): number {
  const paths = caPathsOf(loadSiteConfig(configFile, io.cwd));
  if (!existsSync(paths.cert)) {
    io.err(`idp-egress: no CA at ${paths.cert}; run idp-egress ca init (or start idp-egress serve once)\n`);
    return EXIT.ERROR;
  }
  const ca = loadCa(paths);
  const data =
    options.format === 'pem' ? Buffer.from(ca.certPem) : options.format === 'der' ? Buffer.from(ca.cert.raw) : caTruststore(ca.certPem, options.alias, options.password);
  if (options.out) {
    writeFileSync(resolve(io.cwd, options.out), data);
    io.err(`wrote ${options.format.toUpperCase()} to ${options.out}${options.format === 'p12' ? ` (alias ${options.alias}, store password ${options.password === 'changeit' ? 'changeit' : 'as given'})` : ''}\n`);
  } else if (options.format === 'pem') {
    io.out(ca.certPem);
  } else {
    io.err(`idp-egress: ${options.format} is binary; give --out FILE\n`);
    return EXIT.ERROR;
  }
  return EXIT.OK;
}
