// The gateway under a low open-files limit, with the built binary: a container's `nofile` of a
// few hundred or a thousand. Before descriptors.ts, one client opening connections faster than
// their refusals' linger let them go took every descriptor: libuv then accepted and closed each
// new connection itself (its EMFILE fallback), so every other client was reset, unanswered and
// unaudited.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Child } from '../../support/child.js';
import { FakeProvider } from '../../support/fake-provider.js';
import { harnessConfig, PROVIDER_HOSTS } from '../../support/gateway.js';
import { testCa } from '../../support/pki.js';
import { completeResponse, readUntil } from '../../support/raw.js';
import { needs } from '../../support/tools.js';
import { until } from '../../support/wait.js';

/** util-linux's prlimit sets the gateway's open-files limit. */
const TOOLS = needs(['prlimit'], 'apt-get install util-linux');

const NOFILE = 512;

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** Opens `perSecond` connections a second from 127.0.0.1 that never read; each is dropped after `holdMs`. */
function flood(port: number, perSecond: number, holdMs: number): { stop(): void; opened(): number } {
  let opened = 0;
  const sockets = new Set<Socket>();
  const timer = setInterval(() => {
    for (let i = 0; i < perSecond / 100; i++) {
      const s = netConnect({ port, host: '127.0.0.1', localAddress: '127.0.0.1' });
      s.pause();
      s.on('error', () => undefined);
      sockets.add(s);
      opened++;
      setTimeout(() => (s.destroy(), sockets.delete(s)), holdMs).unref();
    }
  }, 10);
  return {
    stop: () => {
      clearInterval(timer);
      for (const s of sockets) s.destroy();
    },
    opened: () => opened,
  };
}

/** A denied request from 127.0.0.2: its answer's status line, or what the connection said instead. */
async function victim(port: number): Promise<string> {
  const socket = netConnect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
  socket.on('error', () => undefined);
  socket.write('GET http://example.com/victim HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n');
  const text = await readUntil(socket, completeResponse, 3_000);
  socket.destroy();
  return text.split('\r\n')[0] || '(reset, no answer)';
}

/**
 * The built gateway under `prlimit --nofile=N`, its audit in a file, with `limits` (YAML lines
 * under `limits:`); `events()` stops it and reads its audit.
 */
async function startUnder(nofile: number, limits: string) {
  const providerCa = await testCa();
  const provider = await FakeProvider.start(providerCa.ca, PROVIDER_HOSTS);
  const dir = mkdtempSync(join(tmpdir(), 'idp-egress-nofile-'));
  const configFile = join(dir, 'idp-egress.yaml');
  const extra = `clients: [127.0.0.0/8]\nlimits:\n${limits}`;
  writeFileSync(configFile, harnessConfig(provider.port, providerCa.certFile, { log: 'log:\n  stdout: false\n  file: audit.jsonl', extra }));
  const { child, port } = await Child.serve(configFile, dir, ['prlimit', `--nofile=${nofile}:${nofile}`, '--']);
  cleanups.push(async () => {
    if (child.proc.exitCode === null) child.kill('SIGKILL');
    await provider.close();
  });
  const events = async () => {
    child.kill('SIGTERM');
    await until(() => child.proc.exitCode !== null, 10_000);
    return readFileSync(join(dir, 'audit.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  };
  return { child, port, events };
}

describe(`the gateway under an open-files limit of ${NOFILE}${TOOLS.why}`, () => {
  it.skipIf(TOOLS.skip)('says at start what the limit allows, and a flood of refused connections from one client does not lock out another', async () => {
    // The flooding address's cap well below the table's, so its connections are refused and answered, not made room for.
    const { child, port, events: stopAndRead } = await startUnder(NOFILE, '  maxConnectionsPerClient: 16');
    const note = (await child.waitFor(/this process may open (\d+) files \(RLIMIT_NOFILE\).*holds at most (\d+) client connections, \d+ from one client \(limits\.maxConnections 1024 and limits\.maxConnectionsPerClient 16, in the same proportion\), and answers at most (\d+) refused connections at once.*LimitNOFILE=65536/))!;
    expect(Number(note[1])).toBe(NOFILE);
    const adminPort = Number((await child.waitFor(/admin on 127\.0\.0\.1:(\d+)/))[1]);
    const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    expect(metrics).toContain(`idp_egress_connections_limit ${note[2]}\n`);
    const state = (await (await fetch(`http://127.0.0.1:${adminPort}/dashboard/state.json`)).json()) as { connections: unknown };
    expect(state.connections).toMatchObject({ limit: Number(note[2]), configured: 1024, openFilesLimit: NOFILE });

    // Three times as many refusals a second as there are descriptors, each held open by its client.
    const hostile = flood(port, 3 * NOFILE, 2_000);
    cleanups.push(() => hostile.stop());
    await new Promise((r) => setTimeout(r, 1_500));
    const statuses: string[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push(await victim(port));
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(hostile.opened()).toBeGreaterThan(2 * NOFILE);
    expect(statuses).toEqual(Array(5).fill('HTTP/1.1 403 Forbidden'));
    hostile.stop();

    // Each victim's denial is in the audit, and the flood's refusals are too.
    const events = await stopAndRead();
    expect(events.filter((e) => e['client'] === '127.0.0.2' && String(e['url']).endsWith('/victim') && e['status'] === 403)).toHaveLength(5);
    expect(events.some((e) => e['code'] === 'TOO_MANY_CONNECTIONS')).toBe(true);
  });

  it.skipIf(TOOLS.skip)('audits a refusal closed unanswered, past the answers the limit allows at once, with no status', async () => {
    const { child, port, events: stopAndRead } = await startUnder(200, '  maxConnectionsPerClient: 1');
    const lingering = Number((await child.waitFor(/answers at most (\d+) refused connections at once/))[1]);
    expect(lingering).toBe(2);
    const open = () => {
      // Half-open allowed: the client does not close its side when the answer ends, so the answer lingers its full second.
      const s = netConnect({ port, host: '127.0.0.1', localAddress: '127.0.0.1', allowHalfOpen: true });
      s.on('error', () => undefined);
      cleanups.push(() => void s.destroy());
      return s;
    };
    await new Promise((r) => open().once('connect', r));
    // Ten more from the same address at once, none of which reads to its end or closes: each is
    // refused; two answers may linger at once, and the rest are closed without one.
    const refused = Array.from({ length: 10 }, () => {
      const s = open();
      let text = '';
      s.on('data', (c: Buffer) => (text += c.toString('latin1')));
      return { ended: new Promise((r) => s.once('end', r)), text: () => text };
    });
    await Promise.all(refused.map((r) => r.ended));
    const answered = refused.filter((r) => r.text().startsWith('HTTP/1.1 429 ')).length;
    expect(answered).toBe(lingering);
    const refusals = (await stopAndRead()).filter((e) => e['code'] === 'TOO_MANY_CONNECTIONS');
    expect(refusals).toHaveLength(10);
    // The audit says which ones were answered: as many as got the answer, and no more.
    expect(refusals.filter((e) => e['status'] === 429)).toHaveLength(answered);
    expect(refusals.filter((e) => e['status'] === undefined)).toHaveLength(10 - answered);
  });
});
