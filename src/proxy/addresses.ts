import { isIP } from 'node:net';

/**
 * Which addresses the gateway refuses to dial, whatever the host name said: a provider name that
 * resolves into the site's own network is DNS rebinding or a misconfiguration either way.
 *
 * The table is the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890, "Globally
 * Reachable" per RFC 8190; registry page updated 2025-10-09), every row, plus the ranges outside
 * them that must never be dialled (multicast, site-local, IPv4-translated). The most specific row
 * decides, as the registry says: a globally reachable anycast block inside a non-reachable one
 * (192.0.0.9/32 in 192.0.0.0/24) is public. IPv6 outside 2000::/3, where IANA allocates global
 * unicast, is refused unless a row says otherwise. IPv6 forms that carry an IPv4 address have it
 * vetted (NAT64, IPv4-mapped) or are refused naming it (6to4, Teredo, translated, compatible).
 * Cloud metadata and credential endpoints are refused before anything else and no
 * `upstream.allowPrivate` exemption opens them.
 */

interface Row {
  readonly block: string;
  readonly name: string;
  readonly source: string;
  /** The registry's Globally Reachable column; terminated and N/A rows are not. */
  readonly reachable: boolean;
  /** A host named in upstream.allowPrivate may use it (a self-hosted Keycloak at 10.x). */
  readonly exemptable?: boolean;
  /** The IPv4 address inside is vetted, and decides (IPv4-mapped, NAT64 well-known prefix). */
  readonly vetEmbedded?: boolean;
}

/** IANA IPv4 Special-Purpose Address Registry, all 25 rows (two blocks share one). */
export const IPV4_SPECIAL: readonly Row[] = [
  { block: '0.0.0.0/8', name: '"this network"', source: 'RFC 791', reachable: false },
  { block: '0.0.0.0/32', name: '"this host on this network"', source: 'RFC 1122', reachable: false },
  { block: '10.0.0.0/8', name: 'private-use', source: 'RFC 1918', reachable: false, exemptable: true },
  { block: '100.64.0.0/10', name: 'shared address space (carrier-grade NAT)', source: 'RFC 6598', reachable: false, exemptable: true },
  { block: '127.0.0.0/8', name: 'loopback', source: 'RFC 1122', reachable: false, exemptable: true },
  { block: '169.254.0.0/16', name: 'link-local', source: 'RFC 3927', reachable: false, exemptable: true },
  { block: '172.16.0.0/12', name: 'private-use', source: 'RFC 1918', reachable: false, exemptable: true },
  { block: '192.0.0.0/24', name: 'IETF protocol assignments', source: 'RFC 6890', reachable: false },
  { block: '192.0.0.0/29', name: 'IPv4 service continuity prefix', source: 'RFC 7335', reachable: false },
  { block: '192.0.0.8/32', name: 'IPv4 dummy', source: 'RFC 7600', reachable: false },
  { block: '192.0.0.9/32', name: 'Port Control Protocol anycast', source: 'RFC 7723', reachable: true },
  { block: '192.0.0.10/32', name: 'TURN anycast', source: 'RFC 8155', reachable: true },
  { block: '192.0.0.170/32', name: 'NAT64/DNS64 discovery', source: 'RFC 8880', reachable: false },
  { block: '192.0.0.171/32', name: 'NAT64/DNS64 discovery', source: 'RFC 8880', reachable: false },
  { block: '192.0.2.0/24', name: 'documentation (TEST-NET-1)', source: 'RFC 5737', reachable: false },
  { block: '192.31.196.0/24', name: 'AS112-v4', source: 'RFC 7535', reachable: true },
  { block: '192.52.193.0/24', name: 'AMT', source: 'RFC 7450', reachable: true },
  { block: '192.88.99.0/24', name: 'deprecated 6to4 relay anycast (terminated)', source: 'RFC 7526', reachable: false },
  { block: '192.88.99.2/32', name: '6a44 relay anycast', source: 'RFC 6751', reachable: false },
  { block: '192.168.0.0/16', name: 'private-use', source: 'RFC 1918', reachable: false, exemptable: true },
  { block: '192.175.48.0/24', name: 'direct delegation AS112 service', source: 'RFC 7534', reachable: true },
  { block: '198.18.0.0/15', name: 'benchmarking', source: 'RFC 2544', reachable: false },
  { block: '198.51.100.0/24', name: 'documentation (TEST-NET-2)', source: 'RFC 5737', reachable: false },
  { block: '203.0.113.0/24', name: 'documentation (TEST-NET-3)', source: 'RFC 5737', reachable: false },
  { block: '240.0.0.0/4', name: 'reserved', source: 'RFC 1112', reachable: false },
  { block: '255.255.255.255/32', name: 'limited broadcast', source: 'RFC 919', reachable: false },
];

/** IANA IPv6 Special-Purpose Address Registry, all 25 rows. */
export const IPV6_SPECIAL: readonly Row[] = [
  { block: '::1/128', name: 'loopback', source: 'RFC 4291', reachable: false, exemptable: true },
  { block: '::/128', name: 'unspecified', source: 'RFC 4291', reachable: false },
  { block: '::ffff:0:0/96', name: 'IPv4-mapped', source: 'RFC 4291', reachable: false, vetEmbedded: true },
  { block: '64:ff9b::/96', name: 'NAT64 well-known prefix', source: 'RFC 6052', reachable: true, vetEmbedded: true },
  { block: '64:ff9b:1::/48', name: 'NAT64 local-use prefix', source: 'RFC 8215', reachable: false },
  { block: '100::/64', name: 'discard-only', source: 'RFC 6666', reachable: false },
  { block: '100:0:0:1::/64', name: 'dummy IPv6 prefix', source: 'RFC 9780', reachable: false },
  { block: '2001::/23', name: 'IETF protocol assignments', source: 'RFC 2928', reachable: false },
  { block: '2001::/32', name: 'Teredo', source: 'RFC 4380', reachable: false },
  { block: '2001:1::1/128', name: 'Port Control Protocol anycast', source: 'RFC 7723', reachable: true },
  { block: '2001:1::2/128', name: 'TURN anycast', source: 'RFC 8155', reachable: true },
  { block: '2001:1::3/128', name: 'DNS-SD service registration anycast', source: 'RFC 9665', reachable: true },
  { block: '2001:2::/48', name: 'benchmarking', source: 'RFC 5180', reachable: false },
  { block: '2001:3::/32', name: 'AMT', source: 'RFC 7450', reachable: true },
  { block: '2001:4:112::/48', name: 'AS112-v6', source: 'RFC 7535', reachable: true },
  { block: '2001:10::/28', name: 'deprecated ORCHID (terminated)', source: 'RFC 4843', reachable: false },
  { block: '2001:20::/28', name: 'ORCHIDv2', source: 'RFC 7343', reachable: true },
  { block: '2001:30::/28', name: 'drone remote ID entity tags', source: 'RFC 9374', reachable: true },
  { block: '2001:db8::/32', name: 'documentation', source: 'RFC 3849', reachable: false },
  { block: '2002::/16', name: '6to4', source: 'RFC 3056', reachable: false },
  { block: '2620:4f:8000::/48', name: 'direct delegation AS112 service', source: 'RFC 7534', reachable: true },
  { block: '3fff::/20', name: 'documentation', source: 'RFC 9637', reachable: false },
  { block: '5f00::/16', name: 'segment routing (SRv6) SIDs', source: 'RFC 9602', reachable: false },
  { block: 'fc00::/7', name: 'unique-local', source: 'RFC 4193', reachable: false, exemptable: true },
  { block: 'fe80::/10', name: 'link-local', source: 'RFC 4291', reachable: false, exemptable: true },
];

/**
 * Never dialled, though outside the special-purpose registries: multicast (RFC 5771, RFC 4291
 * section 2.7), site-local (RFC 3879), IPv4-compatible (RFC 4291 section 2.5.5.1) and
 * IPv4-translated (RFC 2765) addresses.
 */
export const OUTSIDE_REGISTRIES: readonly Row[] = [
  { block: '224.0.0.0/4', name: 'multicast', source: 'RFC 5771', reachable: false },
  { block: 'ff00::/8', name: 'multicast', source: 'RFC 4291', reachable: false },
  { block: 'fec0::/10', name: 'deprecated site-local', source: 'RFC 3879', reachable: false },
  { block: '::ffff:0:0:0/96', name: 'IPv4-translated', source: 'RFC 2765', reachable: false },
  { block: '::/96', name: 'deprecated IPv4-compatible', source: 'RFC 4291', reachable: false },
];

/**
 * Cloud metadata and credential endpoints: they hand tokens to any local caller (AWS IMDS, Azure
 * IMDS and WireServer, Google and Oracle metadata, Alibaba and the container credential agents). Refused first, whatever the registry says (168.63.129.16 is public
 * space) and whatever upstream.allowPrivate names.
 */
export const METADATA: ReadonlyMap<string, string> = new Map([
  ['169.254.169.254', 'the AWS, Azure, GCP, Oracle, DigitalOcean, Hetzner and OpenStack instance metadata service'],
  ['169.254.170.2', 'the AWS ECS task metadata and credentials endpoint'],
  ['169.254.170.23', 'the AWS EKS Pod Identity agent'],
  ['fd00:ec2::254', 'the AWS instance metadata service (IPv6)'],
  ['fd00:ec2::23', 'the AWS EKS Pod Identity agent (IPv6)'],
  ['168.63.129.16', 'the Azure WireServer (host node) address'],
  ['fd20:ce::254', 'the GCP metadata server (IPv6)'],
  ['100.100.100.200', 'the Alibaba Cloud ECS metadata service'],
  ['192.0.0.192', 'the Oracle Cloud at Customer metadata service'],
  ['fe80::a9fe:a9fe', 'the OpenStack metadata service (IPv6)'],
  ['169.254.42.42', 'the Scaleway metadata service'],
  ['fd00:42::42', 'the Scaleway metadata service (IPv6)'],
]);

interface Range {
  readonly row: Row;
  readonly v6: boolean;
  readonly first: bigint;
  readonly last: bigint;
  readonly prefix: number;
}

/** An address as a number: 32 bits for IPv4, 128 for IPv6. Assumes isIP() accepted it. */
export function addressValue(address: string): { v6: boolean; value: bigint } {
  if (isIP(address) === 4) return { v6: false, value: ipv4Value(address) };
  let text = address;
  // A trailing dotted quad (::ffff:1.2.3.4) is the last 32 bits.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: bigint | undefined;
  if (dotted) {
    tail = ipv4Value(dotted[1]!);
    const v = Number(tail);
    text = `${text.slice(0, -dotted[1]!.length)}${(v >>> 16).toString(16)}:${(v & 0xffff).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = rest === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(parseInt(g, 16));
  return { v6: true, value };
}

function ipv4Value(address: string): bigint {
  return address.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

function ipv4Text(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => Number((value >> s) & 0xffn)).join('.');
}

function rangeOf(row: Row): Range {
  const [address, bits] = row.block.split('/') as [string, string];
  const { v6, value } = addressValue(address);
  const width = v6 ? 128n : 32n;
  const prefix = Number(bits);
  const size = 1n << (width - BigInt(prefix));
  const first = value & ~(size - 1n);
  return { row, v6, first, last: first + size - 1n, prefix };
}

/** Most specific first, so the first range that holds an address is its row. */
const RANGES: readonly Range[] = [...IPV4_SPECIAL, ...IPV6_SPECIAL, ...OUTSIDE_REGISTRIES].map(rangeOf).sort((a, b) => b.prefix - a.prefix);

/** Where IANA allocates IPv6 global unicast (IANA IPv6 Address Space registry). */
const GLOBAL_UNICAST = rangeOf({ block: '2000::/3', name: 'global unicast', source: 'RFC 4291', reachable: true });

/** The IPv4 address an IPv6 form carries, for the ones that name it in a refusal. */
function embeddedIpv4(row: Row, value: bigint): bigint | undefined {
  switch (row.block) {
    case '::ffff:0:0/96':
    case '64:ff9b::/96':
    case '::ffff:0:0:0/96':
    case '::/96':
    case '64:ff9b:1::/48': // RFC 6052 section 2.2 at /96, the layout RFC 8215 operators use
      return value & 0xffffffffn;
    case '2002::/16': // RFC 3056 section 2: bits 16-47
      return (value >> 80n) & 0xffffffffn;
    case '2001::/32': // RFC 4380 section 4: the client's address, bits 96-127, inverted
      return (value & 0xffffffffn) ^ 0xffffffffn;
    default:
      return undefined;
  }
}

export interface AddressVerdict {
  /** Why it may not be dialled; undefined when it may. */
  readonly refused: string | undefined;
  /** Whether upstream.allowPrivate may lift the refusal. */
  readonly exemptable: boolean;
}

/** The classification of one address, before any exemption. */
export function classifyAddress(address: string): AddressVerdict {
  const family = isIP(address);
  if (family === 0) return { refused: `${address} is not an IP address`, exemptable: false };
  // A zone (fe80::1%eth0) names an interface of this host: never a provider.
  if (address.includes('%')) return { refused: `${address} names a network interface (an IPv6 zone)`, exemptable: false };
  const { v6, value } = addressValue(address);
  const canonical = v6 ? canonicalV6(value) : ipv4Text(value);
  const metadata = METADATA.get(canonical);
  if (metadata) return { refused: `${address} is ${metadata}, which is never dialled`, exemptable: false };
  // ISATAP (RFC 5214 section 6.1): an interface ID of 0000:5efe or 0200:5efe carries an IPv4
  // address in its last 32 bits, under any /64 prefix.
  if (v6 && ((value >> 32n) & 0xfdffffffn) === 0x5efen) {
    const inner = classifyAddress(ipv4Text(value & 0xffffffffn));
    if (inner.refused) return { refused: `${address} embeds ${ipv4Text(value & 0xffffffffn)} (ISATAP): ${inner.refused}`, exemptable: false };
  }
  const range = RANGES.find((r) => r.v6 === v6 && r.first <= value && value <= r.last);
  if (range) {
    const { row } = range;
    const embedded = v6 ? embeddedIpv4(row, value) : undefined;
    if (row.vetEmbedded && embedded !== undefined) {
      const inner = classifyAddress(ipv4Text(embedded));
      // An embedded address that is refused stays refused: no exemption reaches through a translator.
      return inner.refused ? { refused: `${address} embeds ${ipv4Text(embedded)} (${row.name}): ${inner.refused}`, exemptable: false } : { refused: undefined, exemptable: false };
    }
    if (row.reachable) return { refused: undefined, exemptable: false };
    const carries = embedded !== undefined ? ` carrying ${ipv4Text(embedded)}` : '';
    return { refused: `${address} is ${article(row.name)} address${carries} (${row.block}, ${row.source}, not globally reachable)`, exemptable: row.exemptable === true };
  }
  if (v6 && !(GLOBAL_UNICAST.first <= value && value <= GLOBAL_UNICAST.last)) {
    return { refused: `${address} is outside 2000::/3, the IPv6 global unicast space`, exemptable: false };
  }
  return { refused: undefined, exemptable: false };
}

function article(name: string): string {
  return `${/^[aeiouAEIOU]/.test(name) ? 'an' : 'a'} ${name}`;
}

/** An IPv6 address in RFC 5952 text form. */
export function canonicalV6(value: bigint): string {
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((value >> s) & 0xffffn).toString(16));
  // The longest run of zero groups (two or more) becomes "::" (RFC 5952 section 4.2).
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.at === -1) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

/** Why `address` may not be dialled, or undefined when it may. `exempt`: the host is in allowPrivate. */
export function refusedAddress(address: string, exempt: boolean): string | undefined {
  const v = classifyAddress(address);
  return exempt && v.exemptable ? undefined : v.refused;
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
