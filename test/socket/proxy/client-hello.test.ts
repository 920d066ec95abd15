// The ClientHello reader against hellos real clients send (Node's TLS, curl's OpenSSL), framed
// as they arrive and as the RFC allows, and against what is not a ClientHello at all.
import { execFile } from 'node:child_process';
import { createServer, connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peekServerName, readClientHello } from '../../../src/proxy/client-hello.js';
import { until } from '../../support/wait.js';
import { needs } from '../../support/tools.js';

/** The bytes a client opens one connection with, as it sent them. */
async function capture(dial: (port: number) => void): Promise<Buffer> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const socketReady = new Promise<Socket>((resolve) => server.once('connection', resolve));
    dial(port);
    const socket = await socketReady;
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    // The client sends its whole first flight and then waits for the server: 300 ms of quiet.
    await new Promise((r) => setTimeout(r, 300));
    socket.destroy();
    return Buffer.concat(chunks);
  } finally {
    server.close();
  }
}

function nodeHello(servername: string | undefined): Promise<Buffer> {
  return capture((port) => {
    const t = tlsConnect({ host: '127.0.0.1', port, ...(servername ? { servername } : {}), rejectUnauthorized: false });
    t.on('error', () => undefined);
  });
}

/** The handshake message of a single-record hello, re-framed into two records split at `at`. */
function reframe(hello: Buffer, at: number): Buffer {
  const message = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const record = (part: Buffer) => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, part.length >> 8, part.length & 0xff]), part]);
  return Buffer.concat([record(message.subarray(0, at)), record(message.subarray(at))]);
}

let withName: Buffer;
let withoutName: Buffer;
beforeAll(async () => {
  withName = await nodeHello('graph.microsoft.com');
  withoutName = await nodeHello(undefined); // Node sends no SNI for an IP address
});

const CURL = needs(['curl'], 'apt-get install curl');

describe('readClientHello', () => {
  it("reads the server name from Node's ClientHello, and undefined when it has none", () => {
    expect(readClientHello(withName)).toEqual({ ok: true, serverName: 'graph.microsoft.com' });
    expect(readClientHello(withoutName)).toEqual({ ok: true, serverName: undefined });
  });

  it.skipIf(CURL.skip)(`reads curl's (OpenSSL) ClientHello${CURL.why}`, async () => {
    const hello = await capture((port) => {
      execFile('curl', ['-sk', '--max-time', '1', '--connect-to', `login.microsoftonline.com:443:127.0.0.1:${port}`, 'https://login.microsoftonline.com/'], () => undefined);
    });
    expect(readClientHello(hello)).toEqual({ ok: true, serverName: 'login.microsoftonline.com' });
  });

  it('says, at every point before the hello is complete, how many bytes it needs: the record header, then the record', () => {
    expect(withName.length).toBe(5 + withName.readUInt16BE(3)); // one record, nothing after it
    for (let n = 0; n < withName.length; n++) expect(readClientHello(withName.subarray(0, n)), `${n} bytes`).toEqual({ need: n < 5 ? 5 : withName.length });
  });

  it('refuses a hello cut into more records than any client sends, instead of collecting them', () => {
    const message = withName.subarray(5);
    const oneByteRecords = Buffer.concat([...message.subarray(0, 65)].map((b) => Buffer.from([0x16, 0x03, 0x01, 0x00, 0x01, b])));
    expect(readClientHello(oneByteRecords)).toEqual({ ok: false, reason: 'the ClientHello spans more than 64 TLS records' });
  });

  it('joins a ClientHello that spans two records (RFC 8446 section 5.1)', () => {
    for (const at of [1, 3, 4, 40, 100]) expect(readClientHello(reframe(withName, at)), `split at ${at}`).toEqual({ ok: true, serverName: 'graph.microsoft.com' });
  });

  it('refuses what is not a ClientHello, saying why', () => {
    const cases: [string, Buffer, RegExp][] = [
      ['plain HTTP', Buffer.from('GET / HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\n'), /does not start with a TLS handshake record/],
      ['an empty record', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00]), /a TLS record of 0 bytes/],
      ['an oversized record', Buffer.from([0x16, 0x03, 0x01, 0x40, 0x01]), /a TLS record of 16385 bytes/],
      ['a ServerHello', Buffer.concat([withName.subarray(0, 5), Buffer.from([0x02]), withName.subarray(6)]), /type 2, not a ClientHello/],
      ['an application-data record after the first fragment', Buffer.concat([reframe(withName, 40).subarray(0, 45), Buffer.from([0x17]), reframe(withName, 40).subarray(46)]), /continues in a record that is not a handshake record/],
    ];
    for (const [name, bytes, reason] of cases) {
      const read = readClientHello(bytes);
      expect(read, name).toMatchObject({ ok: false });
      expect(!('need' in read) && !read.ok && read.reason, name).toMatch(reason);
    }
  });

  it('refuses a hello with a field that runs past its end', () => {
    // cipher_suites' length claims more than the message holds
    const lied = Buffer.from(withName);
    const sessionIdLength = lied[5 + 4 + 34]!;
    const cipherSuitesAt = 5 + 4 + 35 + sessionIdLength;
    lied.writeUInt16BE(0xfff0, cipherSuitesAt);
    expect(readClientHello(lied)).toEqual({ ok: false, reason: 'the ClientHello is malformed: a field runs past its end' });
  });
});

describe('peekServerName', () => {
  let server: ReturnType<typeof createServer>;
  let port: number;
  const accepted: Socket[] = [];
  beforeAll(async () => {
    server = createServer((s) => accepted.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => server.close());

  async function pair(): Promise<[client: Socket, tunnel: Socket]> {
    const before = accepted.length;
    const client = netConnect(port, '127.0.0.1');
    await new Promise((r) => client.once('connect', r));
    while (accepted.length === before) await new Promise((r) => setTimeout(r, 5));
    return [client, accepted.at(-1)!];
  }

  it('reads a hello that arrives a few bytes at a time, then gives back every byte unread', async () => {
    const [client, tunnel] = await pair();
    const peek = peekServerName(tunnel);
    const extra = Buffer.from([0x14, 0x03, 0x03, 0x00, 0x01, 0x01]); // what a client may send next
    const all = Buffer.concat([withName, extra]);
    for (let i = 0; i < withName.length; i += 97) {
      client.write(all.subarray(i, Math.min(i + 97, withName.length)));
      await new Promise((r) => setTimeout(r, 2));
    }
    client.write(extra);
    expect(await peek).toEqual({ ok: true, serverName: 'graph.microsoft.com' });
    await until(() => tunnel.readableLength >= all.length, 3_000, 'the tunnel holds every byte sent');
    const rest: Buffer[] = [];
    for (let c = tunnel.read() as Buffer | null; c; c = tunnel.read() as Buffer | null) rest.push(c);
    expect(Buffer.concat(rest).equals(all)).toBe(true);
    client.destroy();
  });

  it('reports a tunnel that closes before its ClientHello is complete', async () => {
    const [client, tunnel] = await pair();
    const peek = peekServerName(tunnel);
    client.end(withName.subarray(0, 50));
    expect(await peek).toEqual({ ok: false, reason: 'the client closed the tunnel before its TLS ClientHello was complete' });
  });
});
