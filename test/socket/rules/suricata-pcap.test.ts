import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cliIn } from '../../support/cli.js';
import { clientHello } from '../../support/raw.js';
import { needs } from '../../support/tools.js';

/**
 * The Suricata rules against recorded traffic: a pcap the test writes (pcap-savefile(5), raw
 * IPv4) with whole TCP streams from HOME_NET (10.0.0.0/8 in Debian's suricata.yaml) to the
 * internet on 443: a real ClientHello for an allowlisted name, one for another name, and SSH.
 * Suricata reads it with --simulate-ips, so each drop rule reports the flow as blocked.
 */
const run = promisify(execFile);
const tools = needs(['suricata'], 'apt-get install -t bookworm-backports suricata');
const SITE = 'providers:\n  entra-id: {}\n';


function ipv4(a: string): Buffer {
  return Buffer.from(a.split('.').map(Number));
}

const FLAGS = { FIN: 0x01, SYN: 0x02, PSH: 0x08, ACK: 0x10 } as const;

/** One IPv4+TCP packet (checksums left zero: Suricata runs with -k none). */
function packet(src: string, sport: number, dst: string, dport: number, seq: number, ack: number, flags: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(40 + payload.length, 2);
  ip[8] = 64;
  ip[9] = 6;
  ipv4(src).copy(ip, 12);
  ipv4(dst).copy(ip, 16);
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(sport, 0);
  tcp.writeUInt16BE(dport, 2);
  tcp.writeUInt32BE(seq >>> 0, 4);
  tcp.writeUInt32BE(ack >>> 0, 8);
  tcp[12] = 5 << 4;
  tcp[13] = flags;
  tcp.writeUInt16BE(65535, 14);
  return Buffer.concat([ip, tcp, payload]);
}

/** A whole stream: handshake, the client's bytes, the server's acknowledgement, both FINs. */
function stream(client: string, sport: number, server: string, data: Buffer): Buffer[] {
  const [c, s] = [1000, 5000];
  return [
    packet(client, sport, server, 443, c, 0, FLAGS.SYN),
    packet(server, 443, client, sport, s, c + 1, FLAGS.SYN | FLAGS.ACK),
    packet(client, sport, server, 443, c + 1, s + 1, FLAGS.ACK),
    packet(client, sport, server, 443, c + 1, s + 1, FLAGS.PSH | FLAGS.ACK, data),
    packet(server, 443, client, sport, s + 1, c + 1 + data.length, FLAGS.ACK),
    packet(client, sport, server, 443, c + 1 + data.length, s + 1, FLAGS.FIN | FLAGS.ACK),
    packet(server, 443, client, sport, s + 1, c + 2 + data.length, FLAGS.FIN | FLAGS.ACK),
    packet(client, sport, server, 443, c + 2 + data.length, s + 2, FLAGS.ACK),
  ];
}

/** A classic pcap file, link type 101 (raw IP). */
function pcap(packets: readonly Buffer[]): Buffer {
  const global = Buffer.alloc(24);
  global.writeUInt32LE(0xa1b2c3d4, 0);
  global.writeUInt16LE(2, 4);
  global.writeUInt16LE(4, 6);
  global.writeUInt32LE(65535, 16);
  global.writeUInt32LE(101, 20);
  const records = packets.map((p, i) => {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(1_700_000_000, 0);
    h.writeUInt32LE(i * 1000, 4);
    h.writeUInt32LE(p.length, 8);
    h.writeUInt32LE(p.length, 12);
    return Buffer.concat([h, p]);
  });
  return Buffer.concat([global, ...records]);
}

/** Which flows (by client port) Suricata reports blocked, and with which rule message. */
async function blocked(posture: 'idp-only' | 'strict', packets: readonly Buffer[]): Promise<Map<number, string>> {
  const r = await cliIn(SITE, ['rules', '--format', 'suricata', '--posture', posture, '--out', 'idp.rules']);
  expect(r.status, r.err).toBe(0);
  const dir = mkdtempSync(join(tmpdir(), 'suricata-pcap-'));
  writeFileSync(join(dir, 'flows.pcap'), pcap(packets));
  await run('suricata', ['-r', join(dir, 'flows.pcap'), '-S', join(r.cwd, 'idp.rules'), '-l', dir, '-k', 'none', '--runmode', 'single', '--simulate-ips'], { timeout: 120_000 });
  const out = new Map<number, string>();
  for (const line of readFileSync(join(dir, 'eve.json'), 'utf8').split('\n').filter(Boolean)) {
    const e = JSON.parse(line) as { event_type: string; src_port?: number; alert?: { action: string; signature: string } };
    if (e.event_type === 'alert' && e.alert?.action === 'blocked') out.set(e.src_port!, e.alert.signature);
  }
  return out;
}

describe.skipIf(tools.skip)(`suricata rules against recorded traffic${tools.why}`, () => {
  it('passes TLS to an allowlisted name, drops TLS to another, and drops SSH on 443 only under strict', async () => {
    const [allowed, other] = [await clientHello('graph.microsoft.com'), await clientHello('evil.example')];
    const ssh = Buffer.from('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n');
    const packets = [...stream('10.0.0.1', 40001, '198.51.100.7', allowed), ...stream('10.0.0.1', 40002, '198.51.100.8', other), ...stream('10.0.0.1', 40003, '198.51.100.9', ssh)];
    const idpOnly = await blocked('idp-only', packets);
    expect([...idpOnly.keys()].sort()).toEqual([40002]);
    expect(idpOnly.get(40002)).toContain('TLS to a host not on the allowlist');
    const strict = await blocked('strict', packets);
    expect([...strict.keys()].sort()).toEqual([40002, 40003]);
    expect(strict.get(40003)).toContain('not TLS on an allowlisted port');
  }, 240_000);
});
