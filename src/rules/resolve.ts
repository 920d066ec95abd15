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

/**
 * How long /rules/<format> renders the same resolution: firewalls poll such URLs every few
 * minutes (a Palo Alto EDL every five at the most often), so this hides no DNS change from them.
 */
export const RULES_RESOLVE_TTL_MS = 10_000;

/**
 * The addresses /rules/<format> renders, resolved at most once every `ttlMs` for the policy in
 * force and shared by the requests that ask meanwhile. A resolution asks DNS for every provider
 * host through libuv's thread pool, the same four threads that write the audit file and look up
 * providers for the gateway's own connections: resolved per request, a client polling
 * /rules/nftables in a loop could keep them busy. A reload gives a new policy, and the next
 * request resolves for it.
 */
export class RecentResolution {
  private last: { readonly policy: object; readonly at: number; readonly addresses: Promise<ResolvedAddresses> } | undefined;

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(policy: object, resolve: () => Promise<ResolvedAddresses>): Promise<ResolvedAddresses> {
    const last = this.last;
    if (last && last.policy === policy && this.now() - last.at < this.ttlMs) return last.addresses;
    const entry = { policy, at: this.now(), addresses: resolve() };
    this.last = entry;
    // A resolution that failed as a whole is not kept: the next request tries again.
    entry.addresses.catch(() => {
      if (this.last === entry) this.last = undefined;
    });
    return entry.addresses;
  }
}
