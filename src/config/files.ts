import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, type ConfigProblem } from '../core/errors.js';
import { resolveConfigPath, type LoadedConfig } from './load.js';
import { locatorFor } from '../core/located-yaml.js';

/** The contents of the files a config names for serving, read and checked once. */
export interface ReferencedFiles {
  /** upstream.ca: extra CA certificates (PEM) for provider TLS. */
  readonly upstreamCa: string | undefined;
  /** proxyAuth.passwordFile: the proxy password, trimmed. */
  readonly proxyPassword: string | undefined;
  /** dashboard.tokenFile: the token the live page asks for, trimmed. */
  readonly dashboardToken: string | undefined;
  /** log.syslog.tls: the collector's CA and the client certificate and key (PEM). */
  readonly syslogTls: { readonly ca?: string | undefined; readonly cert?: string | undefined; readonly key?: string | undefined };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Reads the files the config names for `serve` and `check`. A path that is wrong, unreadable or
 * holds the wrong thing is a config problem at the key's line, found before anything listens:
 * otherwise the gateway would stop at start-up with a bare ENOENT, or on SIGHUP.
 */
export function readReferencedFiles(loaded: LoadedConfig): ReferencedFiles {
  const { config } = loaded;
  const problems: ConfigProblem[] = [];
  let locate: ((path: readonly string[]) => { line: number; col: number }) | undefined;
  const problem = (path: string[], message: string, fix: string) => {
    // The embedded default names no files, so a problem always comes from a file's text.
    locate ??= locatorFor(loaded.text ?? '');
    const at = locate(path);
    problems.push({ code: 'CONFIG_INVALID', file: loaded.file ?? '(embedded default)', line: at.line, col: at.col, path: path.join('.'), message, fix });
  };
  const read = (path: string[], name: string): string | undefined => {
    const file = resolveConfigPath(loaded, name);
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problem(path, `cannot read ${file} (${code === 'ENOENT' ? 'no such file' : (code ?? (err as Error).message)})`, 'a path relative to the config file, or an absolute one');
      return undefined;
    }
  };

  let upstreamCa: string | undefined;
  if (config.upstream.ca) {
    upstreamCa = read(['upstream', 'ca'], config.upstream.ca);
    if (upstreamCa !== undefined) {
      const blocks = upstreamCa.match(PEM_CERTIFICATE) ?? [];
      const unreadable = blocks.findIndex((pem) => !parsesAsCertificate(pem));
      if (blocks.length === 0) problem(['upstream', 'ca'], `${config.upstream.ca} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, 'the CA certificates that sign the providers\' (or the TLS-inspecting proxy\'s) certificates, in PEM');
      else if (unreadable >= 0) problem(['upstream', 'ca'], `certificate ${unreadable + 1} in ${config.upstream.ca} cannot be parsed`, 'export it again in PEM');
    }
  }
  let proxyPassword: string | undefined;
  if (config.proxyAuth) {
    proxyPassword = read(['proxyAuth', 'passwordFile'], config.proxyAuth.passwordFile)?.trim();
    if (proxyPassword === '') problem(['proxyAuth', 'passwordFile'], `${config.proxyAuth.passwordFile} is empty`, 'put the password on its first line');
  }
  let dashboardToken: string | undefined;
  if (config.dashboard.tokenFile) {
    dashboardToken = read(['dashboard', 'tokenFile'], config.dashboard.tokenFile)?.trim();
    // A token a browser can guess in a day is no token: 128 bits as hex or base64 is 22+ characters.
    if (dashboardToken !== undefined && dashboardToken.length < 22) {
      problem(['dashboard', 'tokenFile'], `${config.dashboard.tokenFile} holds ${dashboardToken.length === 0 ? 'nothing' : `only ${dashboardToken.length} characters`}`, 'put a random token of at least 22 characters on its first line: openssl rand -hex 16 > FILE');
    }
  }
  const syslogTls: { ca?: string; cert?: string; key?: string } = {};
  const tls = config.log.syslog?.tls;
  if (tls?.ca) {
    const ca = read(['log', 'syslog', 'tls', 'ca'], tls.ca);
    if (ca !== undefined && !(ca.match(PEM_CERTIFICATE) ?? []).some(parsesAsCertificate)) problem(['log', 'syslog', 'tls', 'ca'], `${tls.ca} holds no PEM certificate`, "the CA certificate that issued the collector's certificate, in PEM");
    else if (ca !== undefined) syslogTls.ca = ca;
  }
  if (tls?.cert && tls.key) {
    const cert = read(['log', 'syslog', 'tls', 'cert'], tls.cert);
    const key = read(['log', 'syslog', 'tls', 'key'], tls.key);
    if (cert !== undefined && !parsesAsCertificate(cert.match(PEM_CERTIFICATE)?.[0] ?? '')) problem(['log', 'syslog', 'tls', 'cert'], `${tls.cert} holds no PEM certificate`, 'the client certificate the collector expects, in PEM');
    else if (cert !== undefined) syslogTls.cert = cert;
    if (key !== undefined && !/-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/.test(key)) problem(['log', 'syslog', 'tls', 'key'], `${tls.key} holds no PEM private key`, 'the private key of log.syslog.tls.cert, in PEM (unencrypted)');
    else if (key !== undefined) syslogTls.key = key;
  }
  if (problems.length > 0) throw new ConfigError(problems.sort((a, b) => a.line - b.line || a.col - b.col));
  return { upstreamCa, proxyPassword, dashboardToken, syslogTls };
}

function parsesAsCertificate(pem: string): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}
