import { connect as netConnect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pumpBytes } from '../../support/fake-provider.js';
import { startHarness, type Harness } from '../../support/gateway.js';
import { completeResponse, openConnect, readUntil, tlsOver } from '../../support/raw.js';
import { auditLines, until } from '../../support/wait.js';

/**
 * Slow clients: headers and ClientHellos dribbled a byte at a time, many at once, are cut at
 * limits.headersTimeout and cannot hold the gateway; readers that stop reading a large response
 * hold the provider back instead of filling the gateway's memory.
 */
const MB = 1024 * 1024;
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ extra: 'limits:\n  headersTimeout: 1s\n  idleTimeout: 30s' });
});
afterAll(async () => h.close());

/** Writes `text` one byte every `everyMs` until the socket closes; resolves with what came back and when. */
function dribble(socket: Socket, text: string, everyMs: number): Promise<{ answer: string; ms: number }> {
  const started = Date.now();
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= text.length) return clearInterval(timer);
    socket.write(text[i++]!);
  }, everyMs);
  return readUntil(socket, completeResponse, 8_000).then((answer) => {
    clearInterval(timer);
    return { answer, ms: Date.now() - started };
  });
}

describe('adversarial: slow clients', () => {
  it('cuts 100 slowloris header senders at limits.headersTimeout, with a 408 each', async () => {
    const sockets = Array.from({ length: 100 }, () => netConnect(h.run.address.port, '127.0.0.1').on('error', () => undefined));
    const results = await Promise.all(sockets.map((s) => dribble(s, 'GET https://graph.microsoft.com/v1.0/users HTTP/1.1\r\nHost: graph.microsoft.com\r\nX-Slow: ' + 'a'.repeat(200), 50)));
    for (const r of results) {
      expect(r.answer).toMatch(/^HTTP\/1\.1 408 /);
      // The limit plus one sweep of the connections, not the 30 s idle timeout.
      expect(r.ms).toBeLessThan(3_500);
    }
    await until(() => h.run.gateway.connectionCount === 0, 3_000, 'every slow connection is gone');
  });

  it('cuts 50 tunnels whose ClientHello comes a byte at a time', async () => {
    const tunnels = await Promise.all(Array.from({ length: 50 }, () => openConnect(h.run.address.port, 'graph.microsoft.com:443')));
    const started = Date.now();
    // A TLS record header promising a 512-byte handshake, then one byte every 100 ms.
    const closed = tunnels.map(({ socket }) => {
      socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]));
      const timer = setInterval(() => socket.writable && socket.write(Buffer.from([0x01])), 100);
      return new Promise<number>((resolve) =>
        socket.once('close', () => {
          clearInterval(timer);
          resolve(Date.now() - started);
        }),
      );
    });
    for (const ms of await Promise.all(closed)) expect(ms).toBeLessThan(3_500);
  });

  it('holds the provider back for 10 readers that stop reading a 32 MB response, instead of buffering it', async () => {
    const sentPerStream: number[] = [];
    h.provider.on('GET /v1.0/users/big/photo/$value', (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(32 * MB) });
      const stream = sentPerStream.push(0) - 1;
      pumpBytes(res, 32 * MB, (sent) => (sentPerStream[stream] = sent));
    });
    const readers = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const { socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
        const tls = await tlsOver(socket, 'graph.microsoft.com', h.gatewayCaPem);
        tls.write('GET /v1.0/users/big/photo/$value HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\n');
        // Read the first bytes, then stop reading.
        await readUntil(tls, (t) => t.length > 64 * 1024, 5_000);
        tls.pause();
        return tls;
      }),
    );
    await new Promise((r) => setTimeout(r, 1_500));
    // A gateway that buffered would let each provider stream send all 32 MB. One that honours
    // backpressure stops it once the socket buffers on the path are full: about 8 MB on
    // loopback here (three sockets' kernel buffers and TLS records; process.test.ts measures
    // one). Heap or RSS is no measure of this: V8 frees the chunks' memory lazily.
    expect(sentPerStream).toHaveLength(10);
    for (const sent of sentPerStream) expect(sent).toBeLessThan(14 * MB);
    for (const r of readers) r.destroy();
  });
});

describe('adversarial: readers that stop for good', () => {
  it.each(['absolute-form', 'tunnel'])('ends the exchange of a client that reads nothing for limits.idleTimeout, frees its provider connection and audits why (%s)', async (form) => {
    const lines: string[] = [];
    const g = await startHarness({
      extra: 'limits:\n  idleTimeout: 2s',
      log: 'log:\n  stdout: true',
      stdout: { write: (l: string) => void lines.push(...l.split('\n').filter(Boolean)) },
    });
    try {
      let providerClosed = false;
      g.provider.on('GET /v1.0/users/big/photo/$value', (_req, res) => {
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(32 * MB) });
        res.once('close', () => (providerClosed = true));
        pumpBytes(res, 32 * MB);
      });
      const request = 'GET /v1.0/users/big/photo/$value HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\n';
      let reader: Socket;
      if (form === 'tunnel') {
        const { socket } = await openConnect(g.run.address.port, 'graph.microsoft.com:443');
        reader = await tlsOver(socket, 'graph.microsoft.com', g.gatewayCaPem);
        reader.write(request);
      } else {
        reader = netConnect({ port: g.run.address.port, host: '127.0.0.1' });
        reader.write(request.replace('GET /', 'GET https://graph.microsoft.com/'));
      }
      await readUntil(reader, (t) => t.length > 64 * 1024, 5_000);
      reader.pause();
      await until(() => g.run.gateway.activeRequests === 0, 8_000, 'the stalled exchange has ended');
      await until(() => providerClosed, 2_000, "the provider's response was cut");
      await until(() => auditLines(lines).some((e) => e['code'] === 'REQUEST_TIMEOUT'), 2_000);
      const event = auditLines(lines).find((e) => e['code'] === 'REQUEST_TIMEOUT')!;
      // Cut by the gateway for the client's sake, as a trickled body is: a denial, after the provider's 200 had begun.
      expect(event).toMatchObject({ event: 'request', decision: 'deny', status: 200, url: 'https://graph.microsoft.com/v1.0/users/big/photo/$value' });
      expect(event['reason']).toBe('the client read nothing of the response for 2000 ms, with the rest waiting for room in its socket (limits.idleTimeout)');
      reader.destroy();
    } finally {
      await g.close();
    }
  });
});

describe('adversarial: clients that leave', () => {
  it('keeps nothing of a tunnel whose client hangs up while its request is with the provider', async () => {
    const g = await startHarness();
    try {
      const answered: (() => void)[] = [];
      g.provider.on('GET /v1.0/groups/slow', (_req, res) => answered.push(() => res.end('{"value":[]}')));
      for (let i = 0; i < 20; i++) {
        const { socket } = await openConnect(g.run.address.port, 'graph.microsoft.com:443');
        const tls = await tlsOver(socket, 'graph.microsoft.com', g.gatewayCaPem);
        tls.write('GET /v1.0/groups/slow/members HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\n');
        await until(() => answered.length === i + 1, 3_000, 'the provider holds the request');
        tls.destroy();
      }
      await until(() => g.run.gateway.connectionCount === 0, 3_000, 'every tunnel is closed');
      // The provider answers after the clients left: the responses end with nobody to read them.
      for (const answer of answered) answer();
      await until(() => g.run.gateway.activeRequests === 0, 3_000, 'every request is done');
      // Each response's end used to put its tunnel back into a table of the gateway's, for ever.
      expect(g.run.gateway.heldConnections).toBe(0);
    } finally {
      await g.close();
    }
  });
});
