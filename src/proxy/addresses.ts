import { BlockList, isIP } from 'node:net';

/**
 * Which addresses the gateway refuses to dial, whatever the host name said. A provider name
 * that resolves into the site's own network is DNS rebinding or a misconfiguration either way.
 * Classes follow the IANA special-purpose registries (RFC 6890) and Smokescreen's classifyAddr.
 */
interface AddressClass {
  readonly name: string;
  /** Named `upstream.allowPrivate` hosts may use this class (a self-hosted Keycloak at 10.x). */
  readonly exemptable: boolean;
  readonly ranges: readonly (readonly [string, number, 'ipv4' | 'ipv6'])[];
}

const CLASSES: readonly AddressClass[] = [
  // Instance metadata services answer credentials; never dialled, exemption or not.
  { name: 'a cloud metadata address', exemptable: false, ranges: [['169.254.169.254', 32, 'ipv4'], ['169.254.170.2', 32, 'ipv4'], ['100.100.100.200', 32, 'ipv4'], ['fd00:ec2::254', 128, 'ipv6']] },
  { name: 'an unspecified address', exemptable: false, ranges: [['0.0.0.0', 8, 'ipv4'], ['::', 128, 'ipv6']] },
  { name: 'a loopback address', exemptable: true, ranges: [['127.0.0.0', 8, 'ipv4'], ['::1', 128, 'ipv6']] },
  { name: 'a private address', exemptable: true, ranges: [['10.0.0.0', 8, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.168.0.0', 16, 'ipv4'], ['fc00::', 7, 'ipv6']] },
  { name: 'a link-local address', exemptable: true, ranges: [['169.254.0.0', 16, 'ipv4'], ['fe80::', 10, 'ipv6']] },
  { name: 'a carrier-grade NAT address', exemptable: true, ranges: [['100.64.0.0', 10, 'ipv4']] },
  { name: 'a multicast address', exemptable: false, ranges: [['224.0.0.0', 4, 'ipv4'], ['ff00::', 8, 'ipv6']] },
  {
    name: 'a reserved or documentation address',
    exemptable: false,
    ranges: [['240.0.0.0', 4, 'ipv4'], ['192.0.0.0', 24, 'ipv4'], ['198.18.0.0', 15, 'ipv4'], ['192.0.2.0', 24, 'ipv4'], ['198.51.100.0', 24, 'ipv4'], ['203.0.113.0', 24, 'ipv4'], ['2001:db8::', 32, 'ipv6']],
  },
  // BlockList maps ::ffff:a.b.c.d onto IPv4 by itself but not these, which embed an IPv4
  // address that a NAT64 gateway or tunnel would reach (Smokescreen: "IPv6 Embedding").
  { name: 'an IPv6 address embedding an IPv4 address (NAT64, 6to4, Teredo, IPv4-compatible)', exemptable: false, ranges: [['64:ff9b::', 96, 'ipv6'], ['64:ff9b:1::', 48, 'ipv6'], ['2002::', 16, 'ipv6'], ['2001::', 32, 'ipv6'], ['::', 96, 'ipv6']] },
];

const LISTS = CLASSES.map((c) => {
  const list = new BlockList();
  for (const [address, prefix, family] of c.ranges) list.addSubnet(address, prefix, family);
  return { cls: c, list };
});

/** Why `address` may not be dialled, or undefined when it may. `exempt`: the host is in allowPrivate. */
export function refusedAddress(address: string, exempt: boolean): string | undefined {
  const family = isIP(address);
  if (family === 0) return `${address} is not an IP address`;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const { cls, list } of LISTS) {
    if (list.check(address, type)) return exempt && cls.exemptable ? undefined : `${address} is ${cls.name}`;
  }
  return undefined;
}

/**
 * Why a DNS answer may not be dialled, or undefined when it may. One refused address refuses the
 * name: an answer mixing public and private addresses is what a rebinding attack looks like.
 */
export function refusedAnswer(addresses: readonly { readonly address: string }[], exempt: boolean): string | undefined {
  for (const a of addresses) {
    const problem = refusedAddress(a.address, exempt);
    if (problem) return problem;
  }
  return undefined;
}
