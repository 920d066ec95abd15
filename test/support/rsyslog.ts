import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './wait.js';

/** The packages a collector test needs, as apt-get installs them. */
export const RSYSLOG_INSTALL = 'apt-get install -y rsyslog rsyslog-gnutls rsyslog-openssl';

export interface CollectorTls {
  /** gtls (GnuTLS) or ossl (OpenSSL): rsyslog's two TLS drivers. */
  readonly driver: 'gtls' | 'ossl';
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** Require a client certificate whose SAN (or CN) is this name (authMode x509/name). */
  readonly permittedPeer?: string;
}

/**
 * A real rsyslog (imtcp) on loopback, with its own config and nothing of the system's: it
 * writes each message exactly as received (%rawmsg%, without the octet count) to raw.log, and
 * the header fields it parsed to parsed.log, one line each.
 */
export class Collector {
  private proc: ChildProcess | undefined;
  private stderr = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly configFile: string,
  ) {}

  static async start(tls?: CollectorTls): Promise<Collector> {
    const dir = mkdtempSync(join(tmpdir(), 'idp-egress-rsyslog-'));
    mkdirSync(join(dir, 'work'));
    const port = await freePort();
    const stream = tls
      ? ` streamDriver.name="${tls.driver}" streamDriver.mode="1" streamDriver.authMode="${tls.permittedPeer ? 'x509/name' : 'anon'}"` +
        `${tls.permittedPeer ? ` permittedPeer=["${tls.permittedPeer}"]` : ''} streamDriver.CAFile="${tls.caFile}" streamDriver.CertFile="${tls.certFile}" streamDriver.KeyFile="${tls.keyFile}"`
      : '';
    const configFile = join(dir, 'rsyslog.conf');
    writeFileSync(
      configFile,
      `global(workDirectory="${dir}/work" maxMessageSize="64k")
module(load="imtcp")
template(name="raw" type="string" string="%rawmsg%\\n")
template(name="parsed" type="string" string="%pri%|%timereported:::date-rfc3339%|%hostname%|%app-name%|%procid%|%msgid%|%structured-data%\\n")
ruleset(name="siem") {
  action(type="omfile" file="${dir}/raw.log" template="raw")
  action(type="omfile" file="${dir}/parsed.log" template="parsed")
  stop
}
input(type="imtcp" port="${port}" address="127.0.0.1" ruleset="siem"${stream})
`,
    );
    const collector = new Collector(dir, port, configFile);
    await collector.resume();
    return collector;
  }

  /** Starts (again) on the same port, with what it wrote so far kept. */
  async resume(): Promise<void> {
    this.stderr = '';
    const proc = spawn('rsyslogd', ['-n', '-f', this.configFile, '-i', join(this.dir, 'work', 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stdout!.on('data', (c: Buffer) => (this.stderr += c.toString()));
    proc.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()));
    await eventually(async () => {
      if (proc.exitCode !== null) return;
      if (!(await isListening(this.port))) throw new Error('not yet');
    }, 10_000, `rsyslogd listens on ${this.port}`);
    if (proc.exitCode !== null) throw new Error(`rsyslogd exited (${proc.exitCode}): ${this.stderr}`);
  }

  /** SIGTERM as a collector restart does, or SIGKILL as a crash does; resolves when the process is gone. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await exited;
  }

  /** SIGSTOP: a collector that hangs, reading nothing, while its connections stay open. */
  hang(): void {
    this.proc?.kill('SIGSTOP');
  }

  /** Messages as received, in order. */
  raw(): string[] {
    return this.read('raw.log');
  }

  /** The header fields rsyslog parsed: pri|timestamp|hostname|app-name|procid|msgid|structured-data. */
  parsed(): string[] {
    return this.read('parsed.log');
  }

  get log(): string {
    return this.stderr;
  }

  private read(name: string): string[] {
    const file = join(this.dir, name);
    if (!existsSync(file)) return [];
    const text = readFileSync(file, 'utf8');
    // The last line may still be on its way: only whole lines count.
    return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean);
  }
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
