import { describe, expect, it } from 'vitest';
import { classifyAddress, refusedAddress } from '../../../src/proxy/addresses.js';

/**
 * The IANA IPv4 and IPv6 Special-Purpose Address Registries (page updated 2025-10-09), transcribed
 * here on their own from the registries' "Globally Reachable" column (RFC 8190), not read from
 * the code under test. true: globally reachable; false: not, N/A or terminated.
 */
const REGISTRY: readonly (readonly [string, boolean])[] = [
  ['0.0.0.0/8', false], ['0.0.0.0/32', false], ['10.0.0.0/8', false], ['100.64.0.0/10', false], ['127.0.0.0/8', false],
  ['169.254.0.0/16', false], ['172.16.0.0/12', false], ['192.0.0.0/24', false], ['192.0.0.0/29', false], ['192.0.0.8/32', false],
  ['192.0.0.9/32', true], ['192.0.0.10/32', true], ['192.0.0.170/32', false], ['192.0.0.171/32', false], ['192.0.2.0/24', false],
  ['192.31.196.0/24', true], ['192.52.193.0/24', true], ['192.88.99.0/24', false], ['192.88.99.2/32', false], ['192.168.0.0/16', false],
  ['192.175.48.0/24', true], ['198.18.0.0/15', false], ['198.51.100.0/24', false], ['203.0.113.0/24', false], ['240.0.0.0/4', false],
  ['255.255.255.255/32', false],
  ['::1/128', false], ['::/128', false], ['::ffff:0:0/96', false], ['64:ff9b::/96', true], ['64:ff9b:1::/48', false], ['100::/64', false],
  ['100:0:0:1::/64', false], ['2001::/23', false], ['2001::/32', false], ['2001:1::1/128', true], ['2001:1::2/128', true],
  ['2001:1::3/128', true], ['2001:2::/48', false], ['2001:3::/32', true], ['2001:4:112::/48', true], ['2001:10::/28', false],
  ['2001:20::/28', true], ['2001:30::/28', true], ['2001:db8::/32', false], ['2002::/16', false], ['2620:4f:8000::/48', true],
  ['3fff::/20', false], ['5f00::/16', false], ['fc00::/7', false], ['fe80::/10', false],
  // Outside the special-purpose registries, never dialled (multicast, site-local, translated, compatible).
  ['224.0.0.0/4', false], ['ff00::/8', false], ['fec0::/10', false], ['::ffff:0:0:0/96', false], ['::/96', false],
];

const V4 = 32n;
const V6 = 128n;

function parse(address: string): { v6: boolean; value: bigint } {
  if (!address.includes(':')) return { v6: false, value: address.split('.').reduce((a, o) => (a << 8n) | BigInt(o), 0n) };
  const full = new URL(`http://[${address}]/`).hostname.slice(1, -1); // WHATWG canonical form
  const [l, r] = full.split('::') as [string, string | undefined];
  const left = l ? l.split(':') : [];
  const right = r ? r.split(':') : [];
  const groups = r === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return { v6: true, value: groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

function text(v6: boolean, value: bigint): string {
  if (!v6) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  return Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');
}

const ROWS = REGISTRY.map(([block, reachable]) => {
  const [a, bits] = block.split('/') as [string, string];
  const { v6, value } = parse(a);
  const size = 1n << ((v6 ? V6 : V4) - BigInt(bits));
  return { block, reachable, v6, first: value, last: value + size - 1n, prefix: Number(bits) };
});

/** The reference answer: the most specific row decides; IPv6 outside 2000::/3 is never dialled. */
function expectedRefused(v6: boolean, value: bigint): boolean {
  const row = ROWS.filter((r) => r.v6 === v6 && r.first <= value && value <= r.last).sort((a, b) => b.prefix - a.prefix)[0];
  if (row) return !row.reachable;
  return v6 && !(value >= 0x2000n << 112n && value <= (0x4000n << 112n) - 1n);
}

/** Addresses whose own verdict is decided by what they carry, or that are metadata endpoints. */
const SPECIAL_CASES = new Set(['::ffff:0:0/96', '64:ff9b::/96']);

describe('adversarial: addresses classified from the IANA registries', () => {
  const cases: [string, string, boolean][] = [];
  for (const r of ROWS) {
    if (SPECIAL_CASES.has(r.block)) continue;
    const max = (r.v6 ? 1n << V6 : 1n << V4) - 1n;
    for (const [where, value] of [
      ['first', r.first],
      ['last', r.last],
      ['before', r.first - 1n],
      ['after', r.last + 1n],
    ] as const) {
      if (value < 0n || value > max) continue;
      cases.push([`${where} of ${r.block}`, text(r.v6, value), expectedRefused(r.v6, value)]);
    }
  }

  it('walks the first, last and neighbouring address of every registry entry', () => {
    expect(cases.length).toBeGreaterThan(200);
    const wrong = cases.filter(([, address, refused]) => (refusedAddress(address, false) !== undefined) !== refused);
    expect(wrong.map(([what, address, refused]) => `${what}: ${address} should be ${refused ? 'refused' : 'dialled'}`)).toEqual([]);
  });

  it.each([
    // IPv4-mapped and NAT64 (well-known prefix): the IPv4 address inside decides.
    ['::ffff:8.8.8.8', false], ['::ffff:10.1.2.3', true], ['::ffff:0808:0808', false], ['64:ff9b::808:808', false], ['64:ff9b::a01:203', true],
    // Every other form that carries an IPv4 address is refused, naming it.
    ['2002:808:808::1', true], ['2001:0:4136:e378:8000:63bf:f7f7:f7f7', true], ['::ffff:0:808:808', true], ['::808:808', true], ['64:ff9b:1::808:808', true],
    // ISATAP interface IDs are vetted under any prefix.
    ['2606:4700::5efe:a9fe:a9fe', true], ['2606:4700::200:5efe:a01:203', true], ['2606:4700::5efe:808:808', false],
  ])('%s is refused: %s', (address, refused) => {
    expect(refusedAddress(address, false) !== undefined).toBe(refused);
  });

  it.each([
    '169.254.169.254', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '::ffff:0:a9fe:a9fe', '::a9fe:a9fe', '64:ff9b::a9fe:a9fe', '64:ff9b:1::a9fe:a9fe',
    '2002:a9fe:a9fe::1', '2001:0:4136:e378:8000:63bf:5601:5601', 'fe80::5efe:a9fe:a9fe', '2001:db8::200:5efe:a9fe:a9fe',
    'fd00:ec2::254', '169.254.170.2', '169.254.170.23', 'fd00:ec2::23', '168.63.129.16', 'fd20:ce::254', '100.100.100.200', '192.0.0.192',
    'fe80::a9fe:a9fe', '169.254.42.42', 'fd00:42::42', 'fe80::1%eth0',
  ])('refuses the metadata or credential endpoint %s in every spelling, exempt or not', (address) => {
    expect(refusedAddress(address, false)).toBeDefined();
    expect(refusedAddress(address, true)).toBeDefined();
  });

  it.each(['10.1.2.3', '172.16.0.1', '192.168.1.1', '127.0.0.1', '::1', 'fd12::1', '169.254.1.1', 'fe80::1', '100.64.0.1'])(
    'lets upstream.allowPrivate open the site-local address %s',
    (address) => {
      expect(refusedAddress(address, false)).toBeDefined();
      expect(refusedAddress(address, true)).toBeUndefined();
    },
  );

  it('names the registry row and what an address carries', () => {
    expect(classifyAddress('2002:a01:203::1').refused).toBe('2002:a01:203::1 is a 6to4 address carrying 10.1.2.3 (2002::/16, RFC 3056, not globally reachable)');
    expect(classifyAddress('::ffff:169.254.169.254').refused).toContain('embeds 169.254.169.254 (IPv4-mapped)');
    expect(classifyAddress('168.63.129.16').refused).toBe('168.63.129.16 is the Azure WireServer (host node) address, which is never dialled');
  });
});
