import { ConfigError } from '../core/errors.js';
import { missingNodeOptions, tuneGarbageCollector } from '../core/gc-tuning.js';
import { ADMIN_ROUTES } from '../admin/server.js';
import { startGateway, type RunningGateway } from '../serve.js';
import { EXIT, type CliIo } from './io.js';

const BIND_FAILURES: Readonly<Record<string, string>> = {
  EADDRINUSE: 'another process already listens there (a second idp-egress, Squid?)',
  EACCES: 'ports below 1024 need root or CAP_NET_BIND_SERVICE',
  EADDRNOTAVAIL: 'no interface of this machine has that address',
};

/** Why the gateway could not start; a listener that cannot bind names the setting to change. */
function startFailure(err: NodeJS.ErrnoException & { address?: string; port?: number }): string {
  const why = err.syscall === 'listen' && err.code ? BIND_FAILURES[err.code] : undefined;
  if (!why) return err.message;
  const where = err.address?.includes(':') ? `[${err.address}]:${err.port}` : `${err.address}:${err.port}`;
  return `${where}: ${why}; stop it, or set another address in \`listen\` (the proxy) or \`admin\` (metrics and health) in the config`;
}

/**
 * `idp-egress serve`: runs until SIGTERM or SIGINT (drain in-flight requests up to
 * limits.shutdownGrace, then exit 0). SIGHUP re-reads config and packs; a bad one is reported
 * and the policy in force stays.
 */
export async function runServe(configFile: string | undefined, io: CliIo): Promise<number> {
  const note = (line: string) => io.err(`idp-egress: ${line}\n`);
  tuneGarbageCollector();
  let run: RunningGateway;
  try {
    run = await startGateway({ configFile, cwd: io.cwd, note });
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    note(`cannot start: ${startFailure(err as NodeJS.ErrnoException)}`);
    return EXIT.ERROR;
  }
  // Signals are taken before the gateway says it listens: a supervisor may stop it the moment it
  // reads that line, and a SIGTERM without its handler would end it unflushed.
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      note(`${signal}: draining in-flight requests, then exiting`);
      run.close().then(
        () => resolve(EXIT.OK),
        (err: Error) => {
          note(`error while stopping: ${err.message}`);
          resolve(EXIT.ERROR);
        },
      );
    };
    const reload = () => {
      const r = run.reload();
      if (r.ok) {
        note(`SIGHUP: reloaded the policy (${r.policy.endpoints.length} endpoints)`);
        if (r.restartNeeded.length > 0) note(`SIGHUP: changed settings that apply only after a restart, still as before: ${r.restartNeeded.join(', ')}`);
      } else note(`SIGHUP: the new configuration is invalid, the previous policy stays in force:\n${r.error.message.replace(/^/gm, '  ')}`);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', reload);
  });
  const { address, port } = run.address;
  const enabled = run.policy().providers.filter((p) => p.enabled);
  note(`listening on ${address.includes(':') ? `[${address}]` : address}:${port} (${run.policy().mode}; ${enabled.map((p) => `${p.provider}/${p.tls}`).join(', ')})`);
  if (run.adminAddress) note(`admin on ${run.adminAddress.address}:${run.adminAddress.port} (${ADMIN_ROUTES.join(', ')})`);
  for (const w of run.policy().warnings) note(`warning: ${w}`);
  const missing = missingNodeOptions();
  if (missing.length > 0) {
    const options = missing.join(' ');
    // On node's command line, before this very script: node refuses --min-semi-space-size and
    // --initial-old-space-size in NODE_OPTIONS.
    note(`note: node was started without ${options}, which npm start, the Dockerfile and the systemd unit pass: garbage collection costs more CPU and pauses longer under load; give them to node before the script, as in node ${options} ${shellWord(process.argv[1] ?? 'dist/src/cli/main.js')} serve (docs/gateway.md, Lifecycle)`);
  }

  return stopped;
}

/** A path as one word for a POSIX shell: as it is when nothing in it is special, else single-quoted. */
function shellWord(path: string): string {
  return /^[\w./+:@%-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
}
