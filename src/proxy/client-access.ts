import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList } from 'node:net';
import type { Cidr } from '../core/address.js';
import { unmappedAddress } from './connections.js';

export type AccessResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: 'CLIENT_NOT_ALLOWED' | 'PROXY_AUTH_REQUIRED'; readonly reason: string };

export interface ProxyCredentials {
  readonly username: string;
  readonly password: string;
}

/** Who may use the proxy: a client address list, and optionally Basic proxy credentials. */
export class ClientAccess {
  private readonly allowed = new BlockList();
  private readonly expected: Buffer | undefined;

  constructor(cidrs: readonly Cidr[], credentials?: ProxyCredentials) {
    for (const cidr of cidrs) {
      this.allowed.addSubnet(cidr.address, cidr.prefix, cidr.family === 4 ? 'ipv4' : 'ipv6');
    }
    this.expected = credentials ? digest(`${credentials.username}:${credentials.password}`) : undefined;
  }

  check(remoteAddress: string | undefined, proxyAuthorization: string | undefined): AccessResult {
    const address = unmappedAddress(remoteAddress ?? '');
    const allowed = this.allowed.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
    if (!allowed) {
      return { ok: false, code: 'CLIENT_NOT_ALLOWED', reason: `client ${address || '(unknown)'} is not in the config's clients list` };
    }
    if (this.expected) {
      const m = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(proxyAuthorization ?? '');
      // Compare digests so the comparison takes the same time whatever the input's length.
      const given = m ? digest(Buffer.from(m[1]!, 'base64').toString('utf8')) : undefined;
      if (!given || !timingSafeEqual(given, this.expected)) {
        return { ok: false, code: 'PROXY_AUTH_REQUIRED', reason: 'send Proxy-Authorization: Basic credentials' };
      }
    }
    return { ok: true };
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
