import { connect as netConnect, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../support/gateway.js';
import { completeResponse, openConnect, readUntil, tlsOver } from '../../support/raw.js';
import { auditLines, until } from '../../support/wait.js';

/**
 * A request body that trickles in, or stops: Node's server times nothing while a request is in
 * progress on a keep-alive connection, so before limits.requestBodyTimeout such a client held a
 * provider connection for as long as it liked.
 */
const TOKEN_PATH = '/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token';
const SECRET = 'CANARY-slow-body-client-secret';
const FORM = `grant_type=client_credentials&client_id=c&client_secret=${SECRET}`;
/** Says its body is 100 bytes longer than the form. */
const tokenHead = (target: string) => `POST ${target} HTTP/1.1\r\nHost: login.microsoftonline.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${FORM.length + 100}\r\n\r\n`;

let h: Harness;
const lines: string[] = [];

beforeAll(async () => {
  h = await startHarness({
    extra: 'limits:\n  requestBodyTimeout: 1s\n  idleTimeout: 120s',
    log: 'log:\n  stdout: true',
    stdout: { write: (l: string) => void lines.push(...l.split('\n').filter(Boolean)) },
  });
});
afterAll(async () => h.close());

/** Writes the rest of the body a byte every 100 ms until the socket closes; the bytes sent. */
function trickle(socket: Socket | TLSSocket): () => number {
  let sent = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || !socket.writable) return clearInterval(timer);
    socket.write('&');
    sent++;
  }, 100);
  socket.once('close', () => clearInterval(timer));
  return () => sent;
}

/** Reads the answer, then waits for the gateway to close the connection. */
async function answerThenClose(socket: Socket | TLSSocket): Promise<{ text: string; ms: number }> {
  const started = performance.now();
  const text = await readUntil(socket, completeResponse, 6_000);
  const ms = performance.now() - started;
  await until(() => socket.destroyed || socket.readableEnded, 3_000, 'the gateway closed the connection after the 408');
  return { text, ms };
}

describe('adversarial: a request body that never finishes', () => {
  it('to the proxy: a trickled body gets 408 REQUEST_TIMEOUT after limits.requestBodyTimeout, its connection closed and audited', async () => {
    const s = netConnect(h.run.address.port, '127.0.0.1');
    s.on('error', () => undefined);
    // The form with its secret goes up at once (the audit keeps a token call's first bytes), then the rest trickles.
    s.write(`${tokenHead(`https://login.microsoftonline.com${TOKEN_PATH}`)}${FORM}`);
    const sent = trickle(s);
    const { text, ms } = await answerThenClose(s);
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(text).toContain('x-idp-egress-code: REQUEST_TIMEOUT');
    expect(text).toContain('the client did not send the whole request body within 1000 ms (limits.requestBodyTimeout)');
    // Bytes kept coming all along: the body is timed as a whole, not between bytes.
    expect(sent()).toBeGreaterThan(5);
    // A limit fires no earlier than set, and at most two sweeps (0.1 s each) late.
    expect(ms).toBeGreaterThanOrEqual(1_000);
    expect(ms).toBeLessThan(3_000);
    await until(() => auditLines(lines).some((e) => e['code'] === 'REQUEST_TIMEOUT' && e['event'] === 'request'), 3_000, 'the 408 is audited');
    const event = auditLines(lines).find((e) => e['code'] === 'REQUEST_TIMEOUT' && e['event'] === 'request');
    expect(event).toMatchObject({ decision: 'deny', status: 408, method: 'POST', url: `https://login.microsoftonline.com${TOKEN_PATH}`, endpoint: 'entra.token' });
    // The cut request's secret reaches no log line.
    expect(lines.join('\n')).not.toContain(SECRET);
    expect(h.run.gateway.activeRequests).toBe(0);
  });

  it('inside an intercepted tunnel, on the second request of a keep-alive connection (which Node does not time), a stalled body gets the same', async () => {
    const { socket } = await openConnect(h.run.address.port, 'login.microsoftonline.com:443');
    const tls = await tlsOver(socket, 'login.microsoftonline.com', h.gatewayCaPem);
    tls.on('error', () => undefined);
    tls.write(`POST ${TOKEN_PATH} HTTP/1.1\r\nHost: login.microsoftonline.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${FORM.length}\r\n\r\n${FORM}`);
    expect(await readUntil(tls, completeResponse, 3_000)).toMatch(/^HTTP\/1\.1 200 /);
    // The second request sends its headers and the form, then nothing of the 100 bytes it announced.
    tls.write(`${tokenHead(TOKEN_PATH)}${FORM}`);
    const { text, ms } = await answerThenClose(tls);
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(text).toContain('x-idp-egress-code: REQUEST_TIMEOUT');
    expect(ms).toBeGreaterThanOrEqual(1_000);
    expect(ms).toBeLessThan(3_000);
    await until(() => auditLines(lines).filter((e) => e['code'] === 'REQUEST_TIMEOUT').length === 2, 3_000, 'the second 408 is audited');
    expect(auditLines(lines).filter((e) => e['code'] === 'REQUEST_TIMEOUT')[1]).toMatchObject({ event: 'request', decision: 'deny', status: 408, tls: 'intercept', url: `https://login.microsoftonline.com${TOKEN_PATH}` });
    await until(() => h.run.gateway.connectionCount === 0, 3_000, 'the tunnel is closed');
    expect(lines.join('\n')).not.toContain(SECRET);
  });

  it('a body that arrives within the limit, in pieces, is forwarded', async () => {
    const s = netConnect(h.run.address.port, '127.0.0.1');
    s.write(`POST https://login.microsoftonline.com${TOKEN_PATH} HTTP/1.1\r\nHost: login.microsoftonline.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${FORM.length}\r\nConnection: close\r\n\r\n`);
    for (const piece of [FORM.slice(0, 20), FORM.slice(20, 40), FORM.slice(40)]) {
      await new Promise((r) => setTimeout(r, 150));
      s.write(piece);
    }
    expect(await readUntil(s, completeResponse, 3_000)).toMatch(/^HTTP\/1\.1 200 /);
    s.destroy();
  });
});
