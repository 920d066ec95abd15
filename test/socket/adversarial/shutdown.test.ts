import { connect as netConnect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startHarness, SITE } from '../../support/gateway.js';
import { clientHello, completeResponse, openConnect, readUntil } from '../../support/raw.js';
import { auditLines, until } from '../../support/wait.js';


describe('adversarial: shutdown tells the truth', () => {
  it('answers an unanswered CONNECT with 503 and audits it; a tunnel cut in its ClientHello or handshake is the shutdown, not the client', async () => {
    const lines: string[] = [];
    // slow.okta.com is tunnelled and its DNS never answers: its CONNECT waits for the dial.
    const resolver = () => new Promise<never>(() => undefined);
    const h = await startHarness({
      site: `${SITE}\n`.replace(/okta:\n    domain: acme\.okta\.com/, 'okta:\n    domain: slow.okta.com\n    tls: tunnel'),
      resolver,
      log: 'log:\n  stdout: true',
      stdout: { write: (l: string) => void lines.push(...l.split('\n').filter(Boolean)) },
    });
    let closed = false;
    try {
      const pending = netConnect(h.run.address.port, '127.0.0.1');
      pending.write('CONNECT slow.okta.com:443 HTTP/1.1\r\nHost: slow.okta.com:443\r\n\r\n');
      const pendingAnswer = readUntil(pending, completeResponse, 5_000);
      // A tunnel whose client has sent nothing after the 200, and one stuck in its handshake.
      const silent = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
      expect(silent.head).toMatch(/^HTTP\/1\.1 200 /);
      const stuck = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
      stuck.socket.write(await clientHello('graph.microsoft.com'));
      // The gateway answers the hello (ServerHello, its certificate) and waits for the client's Finished.
      await readUntil(stuck.socket, (t) => t.length > 500, 3_000);
      await until(() => h.run.gateway.connectionCount >= 3, 3_000, 'the three connections are open');

      await h.close();
      closed = true;
      const answer = await pendingAnswer;
      expect(answer).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
      expect(answer).toContain('x-idp-egress-code: SHUTTING_DOWN');

      const shutdown = auditLines(lines).filter((e) => e['code'] === 'SHUTTING_DOWN');
      expect(shutdown.map((e) => [e['event'], e['url'], e['status']])).toEqual(
        expect.arrayContaining([
          ['connect', 'slow.okta.com:443', 503],
          ['connect', 'graph.microsoft.com:443', undefined],
          ['connect', 'graph.microsoft.com:443', undefined],
        ]),
      );
      expect(shutdown).toHaveLength(3);
      for (const e of shutdown.filter((x) => x['status'] === undefined)) expect(e['reason']).toContain('the gateway shut down before the tunnel carried a request');
      expect(shutdown.find((e) => e['status'] === 503)!['reason']).toContain('the gateway is shutting down');
      expect(auditLines(lines).filter((e) => e['code'] === 'CLIENT_TLS_FAILED')).toEqual([]);
      for (const s of [pending, silent.socket, stuck.socket]) s.destroy();
    } finally {
      if (!closed) await h.close();
    }
  });
});
