import { readEvents } from '../report/read-logs.js';
import type { AllowedHost } from './allowlist.js';

/** The hosts and endpoints allowed calls really used, from audit logs; `warn` hears of lines left out. */
export async function usedInLogs(files: readonly string[], warn: (note: string) => void = () => undefined): Promise<Map<string, Set<string>>> {
  const used = new Map<string, Set<string>>();
  for (const file of files) {
    for await (const e of readEvents(file, warn)) {
      if (e['event'] !== 'request' || e['decision'] !== 'allow' || typeof e['endpoint'] !== 'string' || typeof e['host'] !== 'string') continue;
      const endpoints = used.get(e['host']) ?? new Set<string>();
      endpoints.add(e['endpoint']);
      used.set(e['host'], endpoints);
    }
  }
  return used;
}

/**
 * Narrows the allowlist to what was used: hosts with no allowed call drop out, paths keep only
 * the endpoints seen, and a one-label wildcard (*.okta.com) becomes the concrete hosts seen
 * under it (acme.okta.com), which every format can express exactly.
 */
export function narrowToUsed(hosts: readonly AllowedHost[], used: ReadonlyMap<string, ReadonlySet<string>>): AllowedHost[] {
  const out: AllowedHost[] = [];
  for (const h of hosts) {
    const concrete = h.wildcard ? [...used.keys()].filter((u) => u.endsWith(h.host.slice(1)) && !u.slice(0, -(h.host.length - 1)).includes('.')) : [h.host];
    for (const host of concrete.sort()) {
      const endpoints = used.get(host);
      if (!endpoints) continue;
      const paths = h.paths.filter((p) => endpoints.has(p.endpoint));
      if (paths.length > 0) out.push({ ...h, host, wildcard: false, paths });
    }
  }
  return out;
}
