import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRules } from '../../../src/cli/rules.js';
import { loadPolicy } from '../../../src/policy/load.js';
import { needs } from '../../support/tools.js';

/**
 * The packet-level formats proven by packets. Two private network namespaces joined by a veth
 * pair: the client (where the generated rules are loaded, as on the Atlassian server) and a fake
 * internet with an address standing in for the IdP hosts, another internet host, a resolver the
 * site names, a rogue resolver, and the site's database. Real TCP and UDP from the client say
 * what passes and what is rejected, per posture, in both address families.
 */
const run = promisify(execFile);
const tools = needs(['ip', 'nft', 'iptables-restore', 'ip6tables-restore', 'ipset'], 'apt-get install iproute2 nftables iptables ipset', { root: true });

const ID = `${process.pid % 10_000}`;
const CLIENT = `idpt-c${ID}`;
const NET = `idpt-s${ID}`;

const A = {
  idp: ['192.0.2.2', '2001:db8::2'],
  other: ['192.0.2.50', '2001:db8::50'],
  resolver: ['192.0.2.53', '2001:db8::53'],
  rogue: ['192.0.2.54', '2001:db8::54'],
  database: ['192.0.2.100', '2001:db8::100'],
  /** Where the IdP's name points after it moves. */
  moved: ['192.0.2.60', '2001:db8::60'],
} as const;

const SITE = `providers:
  entra-id: {}
upstream:
  resolve:
    login.microsoftonline.com: ${A.idp[0]}:443
    graph.microsoft.com: "[${A.idp[1]}]:443"
rules:
  resolvers: [${A.resolver.join(', ')}]
  reachable: [${A.database[0]}/32, ${A.database[1]}/128]
`;

/** The fake internet: TCP echo on 443 everywhere, 8080 on the IdP, 5432 on the database, 53 on both resolvers; UDP echo on 443 and 53. */
const SERVERS = `
const net = require('node:net'), dgram = require('node:dgram');
const tcp = ${JSON.stringify([...Object.values(A).flat().map((a) => [a, 443]), ...A.idp.map((a) => [a, 8080]), ...A.database.map((a) => [a, 5432]), ...[...A.resolver, ...A.rogue].map((a) => [a, 53])])};
const udp = ${JSON.stringify([...A.idp.map((a) => [a, 443]), ...[...A.resolver, ...A.rogue].map((a) => [a, 53])])};
let pending = tcp.length + udp.length;
const ready = () => { if (--pending === 0) console.log('ready'); };
for (const [host, port] of tcp) net.createServer((s) => s.pipe(s).on('error', () => {})).listen(port, host, ready);
for (const [host, port] of udp) { const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4'); s.on('message', (m, r) => s.send(m, r.port, r.address)); s.bind(port, host, ready); }
`;

/**
 * Runs in the client namespace: each probe is "tcp host port" or "udp host port"; answers open
 * (an echo came back), refused, or timeout. "reload FILE" between two echoes on one connection
 * checks that loading the rules again keeps an established connection.
 */
const PROBE = `
const net = require('node:net'), dgram = require('node:dgram'), { execSync } = require('node:child_process');
const tcp = (host, port) => new Promise((resolve) => {
  const s = net.connect({ host, port, timeout: 1500 });
  s.once('connect', () => s.write('ping'));
  s.once('data', () => { s.destroy(); resolve('open'); });
  s.once('timeout', () => { s.destroy(); resolve('timeout'); });
  s.once('error', (e) => resolve(e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET' ? 'refused' : e.code));
});
const udp = (host, port) => new Promise((resolve) => {
  const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const t = setTimeout(() => { s.close(); resolve('timeout'); }, 1500);
  s.once('message', () => { clearTimeout(t); s.close(); resolve('open'); });
  s.once('error', (e) => { clearTimeout(t); s.close(); resolve(e.code === 'ECONNREFUSED' || e.code === 'EHOSTUNREACH' || e.code === 'EACCES' ? 'refused' : e.code); });
  s.connect(port, host, () => s.send('ping'));
});
const keepsEstablished = (host, port, reload) => new Promise((resolve) => {
  const s = net.connect({ host, port });
  s.once('error', (e) => resolve(e.code));
  s.once('connect', () => { s.write('one'); s.once('data', () => { execSync(reload); s.write('two'); s.once('data', () => { s.destroy(); resolve('open'); }); setTimeout(() => { s.destroy(); resolve('cut'); }, 1500); }); });
});
(async () => {
  const out = {};
  for (const line of process.argv.slice(1)) {
    const [kind, host, port, ...rest] = line.split(' ');
    out[line] = kind === 'tcp' ? await tcp(host, +port) : kind === 'udp' ? await udp(host, +port) : await keepsEstablished(host, +port, rest.join(' '));
  }
  console.log(JSON.stringify(out));
})();
`;

async function sh(...args: string[]): Promise<string> {
  const { stdout } = await run(args[0]!, args.slice(1));
  return stdout;
}

let servers: ChildProcess | undefined;
let dir: string;

async function rules(format: string, posture: string, site = SITE): Promise<string> {
  writeFileSync(join(dir, 'idp-egress.yaml'), site);
  let out = '';
  const status = await runRules(loadPolicy({ cwd: dir }), { format: format as 'nftables', posture: posture as 'strict' }, { out: (t) => (out += t), err: () => undefined, cwd: dir });
  expect(status).toBe(0);
  const file = join(dir, `${format}-${posture}`);
  writeFileSync(file, out);
  return file;
}

/** Empties every rule in the client namespace, nft and iptables alike. */
async function clearClient(): Promise<void> {
  await sh('ip', 'netns', 'exec', CLIENT, 'nft', 'flush', 'ruleset');
  await sh('ip', 'netns', 'exec', CLIENT, 'sh', '-c', 'ipset destroy 2>/dev/null || true');
}

async function probe(...lines: string[]): Promise<Record<string, string>> {
  const { stdout } = await run('ip', ['netns', 'exec', CLIENT, process.execPath, '-e', PROBE, ...lines], { timeout: 60_000 });
  return JSON.parse(stdout) as Record<string, string>;
}

/** The matrix every packet-level format is held to: what must pass and what must not, per family. */
function matrix(family: 0 | 1): Record<string, string> {
  const at = (k: keyof typeof A) => A[k][family];
  return {
    idp443: `tcp ${at('idp')} 443`,
    other443: `tcp ${at('other')} 443`,
    idpOtherPort: `tcp ${at('idp')} 8080`,
    quic: `udp ${at('idp')} 443`,
    namedResolver: `udp ${at('resolver')} 53`,
    namedResolverTcp: `tcp ${at('resolver')} 53`,
    rogueResolver: `udp ${at('rogue')} 53`,
    database: `tcp ${at('database')} 5432`,
  };
}

const EXPECTED = {
  strict: { idp443: 'open', other443: 'refused', idpOtherPort: 'refused', quic: 'blocked', namedResolver: 'open', namedResolverTcp: 'open', rogueResolver: 'blocked', database: 'open' },
  'idp-only': { idp443: 'open', other443: 'refused', idpOtherPort: 'open', quic: 'open', namedResolver: 'open', namedResolverTcp: 'open', rogueResolver: 'open', database: 'open' },
} as const;

async function check(posture: keyof typeof EXPECTED, reload: string): Promise<void> {
  for (const family of [0, 1] as const) {
    const m = matrix(family);
    const results = await probe(...Object.values(m), `keep ${A.idp[family]} 443 ${reload}`);
    const seen = Object.fromEntries(Object.entries(m).map(([k, line]) => [k, EXPECTED[posture][k as keyof (typeof EXPECTED)['strict']] === 'blocked' && results[line] !== 'open' ? 'blocked' : results[line]]));
    expect(seen, `${posture}, IPv${family === 0 ? 4 : 6}`).toEqual(EXPECTED[posture]);
    // A reload (the table or chain loaded again) keeps an established allowed connection.
    expect(results[`keep ${A.idp[family]} 443 ${reload}`], 'established across a reload').toBe('open');
  }
}

describe.skipIf(tools.skip)(`rules by packets: nftables and iptables in network namespaces${tools.why}`, () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'idp-egress-packets-'));
    await sh('ip', 'netns', 'add', CLIENT);
    await sh('ip', 'netns', 'add', NET);
    await sh('ip', 'link', 'add', `veth-c${ID}`, 'type', 'veth', 'peer', 'name', `veth-s${ID}`);
    await sh('ip', 'link', 'set', `veth-c${ID}`, 'netns', CLIENT);
    await sh('ip', 'link', 'set', `veth-s${ID}`, 'netns', NET);
    await sh('ip', '-n', CLIENT, 'addr', 'add', '192.0.2.1/24', 'dev', `veth-c${ID}`);
    await sh('ip', '-n', CLIENT, 'addr', 'add', '2001:db8::1/64', 'dev', `veth-c${ID}`, 'nodad');
    for (const a of Object.values(A).flat()) {
      await sh('ip', '-n', NET, 'addr', 'add', a.includes(':') ? `${a}/64` : `${a}/24`, 'dev', `veth-s${ID}`, ...(a.includes(':') ? ['nodad'] : []));
    }
    for (const [ns, dev] of [[CLIENT, `veth-c${ID}`], [NET, `veth-s${ID}`]] as const) {
      await sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
      await sh('ip', '-n', ns, 'link', 'set', dev, 'up');
    }
    servers = spawn('ip', ['netns', 'exec', NET, process.execPath, '-e', SERVERS], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      servers!.stdout!.on('data', (c: Buffer) => c.toString().includes('ready') && resolve());
      servers!.once('exit', (code) => reject(new Error(`the fake internet exited ${code}`)));
    });
  }, 30_000);

  afterAll(async () => {
    servers?.kill();
    await run('ip', ['netns', 'del', CLIENT]).catch(() => undefined);
    await run('ip', ['netns', 'del', NET]).catch(() => undefined);
  });

  it('without rules, everything passes (the test can fail)', async () => {
    await clearClient();
    const r = await probe(...Object.values(matrix(0)));
    expect(Object.values(r).every((v) => v === 'open')).toBe(true);
  });

  it('an address the IdP name no longer resolves to is refused once the rules are regenerated and reloaded', async () => {
    await clearClient();
    const before = await rules('nftables', 'idp-only');
    await sh('ip', 'netns', 'exec', CLIENT, 'nft', '-f', before);
    const moved = SITE.replace(`${A.idp[0]}:443`, `${A.moved[0]}:443`).replace(`[${A.idp[1]}]:443`, `[${A.moved[1]}]:443`);
    const after = await rules('nftables', 'idp-only', moved);
    await sh('ip', 'netns', 'exec', CLIENT, 'nft', '-f', after);
    const r = await probe(`tcp ${A.idp[0]} 443`, `tcp ${A.idp[1]} 443`, `tcp ${A.moved[0]} 443`, `tcp ${A.moved[1]} 443`);
    expect(r).toEqual({ [`tcp ${A.idp[0]} 443`]: 'refused', [`tcp ${A.idp[1]} 443`]: 'refused', [`tcp ${A.moved[0]} 443`]: 'open', [`tcp ${A.moved[1]} 443`]: 'open' });
  });

  for (const posture of ['strict', 'idp-only'] as const) {
    it(`nftables, posture ${posture}: passes and rejects exactly what its header says, IPv4 and IPv6`, async () => {
      await clearClient();
      const file = await rules('nftables', posture);
      await sh('ip', 'netns', 'exec', CLIENT, 'nft', '-f', file);
      await check(posture, `nft -f ${file}`);
    });

    it(`ipset + iptables/ip6tables, posture ${posture}: the same, beside the host's own rules`, async () => {
      await clearClient();
      const ipset = await rules('ipset', posture);
      const v4 = await rules('iptables', posture);
      const v6 = await rules('ip6tables', posture);
      // A rule of the host's own, which loading the chain must leave in place.
      await sh('ip', 'netns', 'exec', CLIENT, 'iptables', '-A', 'OUTPUT', '-d', '198.51.100.1', '-j', 'DROP');
      const load = `ipset restore -exist -f ${ipset} && iptables-restore --noflush < ${v4} && ip6tables-restore --noflush < ${v6}`;
      await sh('ip', 'netns', 'exec', CLIENT, 'sh', '-c', load);
      for (const cmd of ['iptables', 'ip6tables']) {
        await sh('ip', 'netns', 'exec', CLIENT, 'sh', '-c', `${cmd} -C OUTPUT -j IDP_EGRESS 2>/dev/null || ${cmd} -I OUTPUT 1 -j IDP_EGRESS`);
      }
      await check(posture, load);
      const output = await sh('ip', 'netns', 'exec', CLIENT, 'iptables', '-S', 'OUTPUT');
      expect(output).toContain('-A OUTPUT -d 198.51.100.1/32 -j DROP');
      expect(output.match(/-j IDP_EGRESS/g)).toHaveLength(1);
    });
  }
});
