import { isIP } from 'node:net';
import type { SiteConfig } from '../config/schema.js';
import { systemResolver, upstreamRouting, type Resolver } from '../proxy/upstream.js';
import type { AllowedHost } from './allowlist.js';

export interface ResolvedAddresses {
  /** Address -> every allowlisted host that resolved to it (shared front ends serve several). */
  readonly v4: ReadonlyMap<string, readonly string[]>;
  readonly v6: ReadonlyMap<string, readonly string[]>;
  /** Hosts that did not resolve, with why; emitters say so instead of dropping them silently. */
  readonly failed: ReadonlyMap<string, string>;
}

/**
 * The addresses of the allowlisted hosts now, for IP-based formats: the config's
 * upstream.resolve entries first (as the gateway dials them), else DNS. Wildcards cannot be
 * resolved; the DNS-driven sets (dnsmasq nftset=/ipset=) cover them. Address -> host names.
 */
export async function resolveForRules(hosts: readonly AllowedHost[], config: SiteConfig, resolver: Resolver = systemResolver): Promise<ResolvedAddresses> {
  const v4 = new Map<string, string[]>();
  const v6 = new Map<string, string[]>();
  const failed = new Map<string, string>();
  const { resolve } = upstreamRouting(config);
  for (const host of [...new Set(hosts.filter((h) => !h.wildcard).map((h) => h.host))]) {
    const pinned = resolve.get(host);
    let addresses: string[];
    if (pinned) {
      addresses = [pinned.address];
    } else {
      try {
        addresses = (await resolver(host)).map((a) => a.address);
      } catch (err) {
        failed.set(host, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
        continue;
      }
    }
    for (const a of addresses.sort()) {
      const byAddress = isIP(a) === 6 ? v6 : v4;
      byAddress.set(a, [...(byAddress.get(a) ?? []), host]);
    }
  }
  return { v4, v6, failed };
}
