import { readReferencedFiles } from '../config/files.js';
import type { LoadedPolicy } from '../policy/load.js';
import { columns } from '../core/columns.js';
import { EXIT, type CliIo } from './io.js';

/** `idp-egress check`: the config and packs are valid; what is on, and what deserves a look. */
export function runCheck(loaded: LoadedPolicy, io: CliIo): number {
  const { policy, config, packs } = loaded;
  // The files `serve` will read (upstream.ca, proxyAuth.passwordFile): a wrong path is found here.
  readReferencedFiles(config);
  const count = (source: string) => policy.endpoints.filter((e) => e.source === source).length;
  const site = count('site');
  io.out(`config:   ${config.file ?? `embedded default (no --config and no idp-egress.yaml in ${io.cwd})`}\n`);
  io.out(`packs:    ${packs.length} (${packs.map((p) => p.provider).join(', ')})\n`);
  io.out(`mode:     ${policy.mode}\n`);
  io.out(`enabled:  ${policy.endpoints.length} endpoints (${count('documented')} from the vendor table, ${count('variant')} variants${site > 0 ? `, ${site} the site's own` : ''})\n\n`);

  const rows = [['PROVIDER', 'STATE', 'MODE', 'TLS', 'ENDPOINTS', 'HOSTS']];
  for (const p of policy.providers) {
    const count = policy.endpoints.filter((e) => e.provider === p.provider).length;
    rows.push(
      p.enabled
        ? [p.provider, 'on', p.mode, p.tls, String(count), p.hosts.join(' ')]
        : [p.provider, 'off', '-', '-', '0', p.off ?? ''],
    );
  }
  io.out(columns(rows));

  const notes = [...policy.warnings, ...policy.providers.filter((p) => !p.enabled).map((p) => `${p.title} is off: ${p.off}`)];
  if (notes.length > 0) {
    io.out(`\nwarnings:\n${notes.map((w) => `  - ${w}\n`).join('')}`);
  }
  io.out(`\nOK: config and packs are valid${notes.length > 0 ? ` (${notes.length} warning${notes.length === 1 ? '' : 's'})` : ''}\n`);
  return EXIT.OK;
}
