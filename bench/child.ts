import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GATEWAY_NODE_OPTIONS } from '../src/core/gc-tuning.js';
import { serverCert, testCa } from '../test/support/pki.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));

/**
 * A benchmark's own process (the gateway, the upstream, the floor), started with this Node and
 * `nodeFlags`, under `wrapper` when given (valgrind); resolves once `ready` matches what it has
 * printed on `stream`, with all of it.
 */
export function startChild(args: string[], ready: RegExp, stream: 'stdout' | 'stderr', nodeFlags: string[] = [], wrapper: string[] = []): Promise<{ proc: ChildProcess; match: RegExpMatchArray; text: string }> {
  const command = [...wrapper, process.execPath, ...nodeFlags, ...args];
  const proc = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  // A benchmark that fails part-way must not leave its gateway and servers running.
  const stop = () => proc.kill('SIGKILL');
  process.once('exit', stop);
  proc.once('exit', () => process.off('exit', stop));
  let text = '';
  return new Promise((resolve, reject) => {
    // Read until ready, then no more: the gateway's --trace-gc output goes on for the whole run,
    // and matching its growing text on every chunk was work in the process that measures.
    const onData = (c: Buffer) => {
      text += c.toString();
      const m = ready.exec(text);
      if (!m) return;
      proc[stream]!.off('data', onData);
      resolve({ proc, match: m, text });
    };
    proc[stream]!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${text}`)));
  });
}

/**
 * A child that says "listening on 127.0.0.1:PORT" on stderr (the gateway, the floors), with that
 * port. Each starts with the node options `npm start` passes the gateway, so the bench measures
 * the gateway as it ships and the floors differ from it in work only.
 */
async function startListening(args: string[], nodeFlags: string[] = [], wrapper: string[] = []) {
  const child = await startChild(args, /listening on 127\.0\.0\.1:(\d+)/, 'stderr', [...GATEWAY_NODE_OPTIONS, ...nodeFlags], wrapper);
  return { ...child, port: Number(child.match[1]) };
}

/**
 * The benchmark's provider stand-in (upstream-server.ts) in its own process, serving `hosts` with
 * a certificate from a CA made for this run; its key and certificate are written into `dir`.
 */
export async function startUpstream(dir: string, hosts: readonly string[]) {
  const { ca, certFile } = await testCa('idp-egress bench upstream CA', dir);
  const tls = serverCert(ca, [...hosts]);
  writeFileSync(join(dir, 'key.pem'), tls.key);
  writeFileSync(join(dir, 'cert.pem'), tls.cert);
  const upstream = await startChild([join(HERE, 'upstream-server.js'), join(dir, 'key.pem'), join(dir, 'cert.pem')], /^(\d+)\n/, 'stdout');
  return { ca, certFile, upstream, port: Number(upstream.match[1]) };
}

/**
 * A bench's gateway config in `dir`: an ephemeral loopback port, no admin listener, and the audit
 * written to a file in `dir` as a deployment writes it; `rest` is the YAML that follows.
 */
export function writeGatewayConfig(dir: string, rest: string): string {
  const file = join(dir, 'idp-egress.yaml');
  writeFileSync(file, `listen: 127.0.0.1:0\nadmin: false\nlog:\n  stdout: false\n  file: ${join(dir, 'audit.jsonl')}\n${rest}`);
  return file;
}

/** The built gateway serving `configFile`, in its own process; resolves with its port once it listens. */
export async function startGateway(configFile: string, nodeFlags: string[] = [], wrapper: string[] = []) {
  return startListening([join(HERE, '../src/cli/main.js'), 'serve', '--config', configFile], nodeFlags, wrapper);
}

/** The tunnel floor (tunnel-floor.ts) in its own process, splicing every CONNECT to the upstream on loopback. */
export async function startTunnelFloor(upstreamPort: number) {
  return startListening([join(HERE, 'tunnel-floor.js'), '127.0.0.1', String(upstreamPort)]);
}

/** The floor (floor-proxy.ts) in its own process, with the upstream's certificate from `dir`; resolves with its port. */
export async function startFloor(dir: string, upstreamCaFile: string, upstreamPort: number, wrapper: string[] = [], nodeFlags: string[] = []) {
  return startListening([join(HERE, 'floor-proxy.js'), join(dir, 'key.pem'), join(dir, 'cert.pem'), upstreamCaFile, String(upstreamPort)], nodeFlags, wrapper);
}
