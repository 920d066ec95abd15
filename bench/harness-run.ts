import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A proxy an anchors harness run keeps up (`run-anchors.sh --keep-running`): a row of its proxies.tsv. */
export interface HarnessProxy {
  readonly name: string;
  readonly port: string;
  readonly ca: string;
  readonly pid: string;
}

/**
 * The named proxies of the run in `runDir`, in the order named, or the reason they cannot be
 * measured: no proxies.tsv there, a name the run does not have, a process that has ended.
 */
export function harnessProxies(runDir: string, names: readonly string[]): HarnessProxy[] | { problem: string } {
  const table = join(runDir, 'proxies.tsv');
  if (!existsSync(table)) return { problem: `no ${table}: --run is the run folder a --keep-running harness printed` };
  const known = new Map<string, HarnessProxy>();
  for (const line of readFileSync(table, 'utf8').trim().split('\n')) {
    // name, mode, port, CA file, pid; `direct` has no port and no process ('-').
    const [name, , port, ca, pid] = line.split('\t') as [string, string, string, string, string];
    if (pid !== '-') known.set(name, { name, port, ca, pid });
  }
  const proxies: HarnessProxy[] = [];
  for (const name of names) {
    const p = known.get(name);
    if (!p) return { problem: `no proxy ${JSON.stringify(name)} in ${table} (it has: ${[...known.keys()].join(', ')})` };
    if (!existsSync(`/proc/${p.pid}`)) return { problem: `${p.name}'s process ${p.pid} is gone: is the harness still running?` };
    proxies.push(p);
  }
  return proxies;
}
