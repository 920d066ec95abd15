// Audit delivery to a real rsyslog on loopback: RFC 5424 and CEF, over TCP and TLS (both of
// rsyslog's TLS drivers), a collector that goes away under load, a spool that fills up.
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../support/gateway.js';
import { serverCert, testCa } from '../../support/pki.js';
import { Collector, RSYSLOG_INSTALL, type CollectorTls } from '../../support/rsyslog.js';
import { needs } from '../../support/tools.js';
import { auditFile, until } from '../../support/wait.js';

const RSYSLOG_MODULES = '/usr/lib/x86_64-linux-gnu/rsyslog';
const RSYSLOG = needs(['rsyslogd', `${RSYSLOG_MODULES}/lmnsd_gtls.so`, `${RSYSLOG_MODULES}/lmnsd_ossl.so`], RSYSLOG_INSTALL);

/** RFC 5424 §6 as a pattern: PRI VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG. */
const RFC5424 = /^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) idp-egress (\d+) (\S+) (-|\[.*?[^\\]\]) (.*)$/;

const running: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.close();
});

async function collector(tls?: CollectorTls): Promise<Collector> {
  const c = await Collector.start(tls);
  running.push({ close: () => c.stop() });
  return c;
}

async function gateway(syslog: string): Promise<Harness> {
  const h = await startHarness({ log: `log:\n  stdout: false\n  file: audit.jsonl\n  syslog:\n${syslog}` });
  running.push(h);
  return h;
}

/**
 * n calls through the gateway, `parallel` at a time, every `denyEvery`th one denied (fewer than
 * 50 in all, so none is folded into a summary line).
 */
async function traffic(h: Harness, n: number, parallel = 4, denyEvery = 3): Promise<void> {
  const agent = h.agent({ connections: parallel });
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) {
        const i = next++;
        const path = i % denyEvery === denyEvery - 1 ? `/v1.0/users/u${i}/drive` : `/v1.0/users?$top=${i}`;
        const res = await request(`https://graph.microsoft.com${path}`, { dispatcher: agent });
        await res.body.dump();
      }
    }),
  );
}

/** The audit events' ids in the file, in order: requests and CONNECTs (the gateway's own lines have no id). */
function fileIds(h: Harness): string[] {
  return auditFile(join(h.dir, 'audit.jsonl'))
    .filter((e) => typeof e.event === 'string')
    .map((e) => e.id as string);
}

function requestCount(h: Harness): number {
  return auditFile(join(h.dir, 'audit.jsonl')).filter((e) => e.event === 'request').length;
}

function jsonOf(raw: string): Record<string, unknown> {
  const m = RFC5424.exec(raw);
  if (!m) throw new Error(`not RFC 5424: ${raw.slice(0, 200)}`);
  return JSON.parse(m[7]!) as Record<string, unknown>;
}

function receivedIds(c: Collector): string[] {
  return c
    .raw()
    .map(jsonOf)
    .filter((e) => typeof e.event === 'string')
    .map((e) => e.id as string);
}

async function collectorPki(peer?: string) {
  const { ca, dir, certFile } = await testCa('idp-egress test collector CA');
  const server = serverCert(ca, ['collector.idp-egress.test']);
  const files = { caFile: certFile, certFile: join(dir, 'collector.pem'), keyFile: join(dir, 'collector-key.pem') };
  writeFileSync(files.certFile, server.cert);
  writeFileSync(files.keyFile, server.key);
  let client: { certFile: string; keyFile: string } | undefined;
  if (peer) {
    const c = serverCert(ca, [peer], { clientAuth: true });
    client = { certFile: join(dir, 'client.pem'), keyFile: join(dir, 'client-key.pem') };
    writeFileSync(client.certFile, c.cert);
    writeFileSync(client.keyFile, c.key);
  }
  return { ...files, client };
}

describe.skipIf(RSYSLOG.skip)(`syslog delivery to a real rsyslog${RSYSLOG.why}`, { timeout: 60_000 }, () => {
  it('delivers every event once, in order, as RFC 5424 over TCP that rsyslog parses field by field', async () => {
    const c = await collector();
    const h = await gateway(`    target: 127.0.0.1:${c.port}\n    transport: tcp\n    hostname: gw01.idp-egress.test`);
    await traffic(h, 60);
    h.run.audit.logger.info({ reloads: 1 }, 'a line of the gateway\'s own');
    await h.close();
    running.splice(running.indexOf(h), 1);
    const ids = fileIds(h);
    expect(requestCount(h)).toBe(60);
    // A clean close confirms delivery: the collector has every event by then.
    await until(() => receivedIds(c).length >= ids.length, 5_000, 'the collector wrote every event');
    expect(receivedIds(c)).toEqual(ids);
    const raw = c.raw();
    for (const line of raw) expect(line).toMatch(RFC5424);
    // The JSON in MSG is the file's line, field for field.
    const fileEvents = auditFile(join(h.dir, 'audit.jsonl')).filter((e) => typeof e.event === 'string');
    expect(raw.map(jsonOf).filter((e) => typeof e.event === 'string')).toEqual(fileEvents);
    // rsyslog parsed the header as RFC 5424: PRI local0.info / local0.warning, our host, app, msgid and SD.
    const parsed = c.parsed().filter((p) => p.includes('|request|'));
    expect(parsed).toHaveLength(60);
    const denied = parsed.filter((p) => p.includes('decision="deny"'));
    expect(denied).toHaveLength(20);
    for (const p of denied) expect(p).toMatch(/^132\|\S+\|gw01\.idp-egress\.test\|idp-egress\|\d+\|request\|\[audit@32473 id="[0-9a-f-]{36}" event="request" decision="deny" code="PATH_NOT_ALLOWED" /);
    expect(parsed.filter((p) => p.startsWith('134|'))).toHaveLength(40);
    expect(c.parsed().some((p) => p.includes('|gateway|-'))).toBe(true);
    expect(raw.some((r) => r.includes('"msg":"a line of the gateway\'s own"'))).toBe(true);
  });

  it('speaks TLS to rsyslog (GnuTLS driver) and writes CEF that a CEF parser reads', async () => {
    const pki = await collectorPki();
    const c = await collector({ driver: 'gtls', ...pki });
    const h = await gateway(`    target: 127.0.0.1:${c.port}\n    format: cef\n    tls:\n      ca: ${pki.caFile}\n      serverName: collector.idp-egress.test`);
    await traffic(h, 30);
    await until(() => requestCount(h) >= 30, 10_000, 'every call is in the file');
    const ids = fileIds(h);
    const events = () => c.raw().filter((r) => r.includes('externalId='));
    await until(() => events().length >= ids.length, 10_000, 'the collector has every event');
    expect(events().map((r) => /externalId=(\S+)/.exec(r)?.[1])).toEqual(ids);
    for (const r of events()) {
      const m = /^<(\d+)>1 \S+ \S+ idp-egress \d+ (request|connect) - CEF:0\|idp-egress\|idp-egress\|[^|]+\|(request|connect):([A-Z_]+)\|(?:request|connect) (allowed|blocked)\|(\d+)\|(.*)$/.exec(r);
      expect(m, r).not.toBeNull();
      const ext = parseCefExtension(m![7]!);
      expect(ext.act).toBe(m![5]);
      expect(ext.cs3).toBe(m![4]);
      expect(ext.dhost).toBe('graph.microsoft.com');
      expect(ext.src).toBe('127.0.0.1');
      expect(Number(ext.rt)).toBeGreaterThan(Date.now() - 60_000);
      if (m![2] === 'request') expect(ext.request).toMatch(/^https:\/\/graph\.microsoft\.com\/v1\.0\/users/);
    }
    // The gateway's own lines go too, in CEF's msg.
    expect(c.raw().some((r) => /CEF:0\|idp-egress\|idp-egress\|[^|]+\|gateway\|syslog: connected to the collector\|/.test(r))).toBe(true);
  });

  it('presents a client certificate to a collector that requires one (OpenSSL driver, x509/name)', async () => {
    const pki = await collectorPki('gw01.idp-egress.test');
    const c = await collector({ driver: 'ossl', ...pki, permittedPeer: 'gw01.idp-egress.test' });
    const h = await gateway(
      `    target: 127.0.0.1:${c.port}\n    tls:\n      ca: ${pki.caFile}\n      serverName: collector.idp-egress.test\n      cert: ${pki.client!.certFile}\n      key: ${pki.client!.keyFile}`,
    );
    await traffic(h, 10);
    await until(() => requestCount(h) >= 10, 10_000, 'every call is in the file');
    await until(() => receivedIds(c).length >= fileIds(h).length, 10_000, 'the collector has every event');
    expect(receivedIds(c)).toEqual(fileIds(h));
  });

  it('refuses a collector whose certificate it does not trust, says why once, and keeps the events', async () => {
    const pki = await collectorPki();
    const c = await collector({ driver: 'gtls', ...pki });
    const other = await testCa('some other CA');
    const h = await gateway(`    target: 127.0.0.1:${c.port}\n    tls:\n      ca: ${other.certFile}\n      serverName: collector.idp-egress.test`);
    await traffic(h, 12);
    await until(() => auditFile(join(h.dir, 'audit.jsonl')).some((e) => String(e.msg).includes('does not trust')), 10_000, 'the refusal is in the audit');
    const refusal = auditFile(join(h.dir, 'audit.jsonl')).filter((e) => String(e.msg).startsWith('syslog:'));
    expect(refusal).toHaveLength(1);
    expect(refusal[0]!.msg).toMatch(/presented a certificate the gateway does not trust \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)\b.*set log\.syslog\.tls\.ca/);
    expect(refusal[0]!.level).toBe(50);
    expect(c.raw()).toEqual([]);
    const metrics = await h.run.metrics.scrape();
    expect(metrics).toMatch(/^idp_egress_syslog_connected 0$/m);
    // The 12 events, and the refusal line itself, wait for a collector the gateway trusts.
    expect(Number(/^idp_egress_syslog_queued_events (\d+)$/m.exec(metrics)![1])).toBeGreaterThanOrEqual(13);
  });

  // The hard case: a collector that hangs (reads nothing, the TCP buffers fill) and then
  // crashes, so what sat in them is gone. With a replay window of 1 byte this test loses events.
  it('loses nothing when the collector hangs and crashes under load: every event arrives, in order, duplicates only from the replay window', async () => {
    const c = await collector();
    const h = await gateway(`    target: 127.0.0.1:${c.port}\n    transport: tcp\n    queue:\n      memory: 50\n      directory: spool`);
    const load = traffic(h, 600, 8, 20);
    await until(() => receivedIds(c).length >= 100, 10_000, 'the first events arrived');
    c.hang();
    await until(() => requestCount(h) >= 250, 20_000, 'calls while the collector hangs');
    await c.stop('SIGKILL');
    await until(() => requestCount(h) >= 350, 20_000, 'more calls while the collector is away');
    expect(statSync(join(h.dir, 'spool')).isDirectory()).toBe(true);
    await c.resume();
    await load;
    await until(() => requestCount(h) >= 600, 10_000, 'every call is in the file');
    const ids = fileIds(h);
    await until(() => new Set(receivedIds(c)).size >= ids.length, 20_000, 'every event arrived after the restart');
    const got = receivedIds(c);
    // At least once, and in order: the first time each id arrives follows the file's order.
    const firstSeen = [...new Set(got)];
    expect(firstSeen).toEqual(ids);
    const metrics = await h.run.metrics.scrape();
    const replayed = Number(/^idp_egress_syslog_replayed_events_total (\d+)$/m.exec(metrics)![1]);
    expect(got.length - ids.length).toBeLessThanOrEqual(replayed);
    expect(metrics).toMatch(/^idp_egress_syslog_connected 1$/m);
    expect(metrics).toMatch(/^idp_egress_syslog_dropped_events_total\{reason="disk_full"\} 0$/m);
  });

  it('honours the disk bound while the collector is away, counts what it drops, and delivers the rest when it is back', async () => {
    const c = await collector();
    await c.stop();
    const h = await gateway(`    target: 127.0.0.1:${c.port}\n    transport: tcp\n    queue:\n      memory: 10\n      directory: spool\n      maxDisk: 32k`);
    await traffic(h, 300, 8, 20);
    await until(() => requestCount(h) >= 300, 10_000, 'every call is in the file');
    await h.run.metrics.scrape();
    const spool = join(h.dir, 'spool');
    const onDisk = readdirSync(spool).reduce((n, f) => n + statSync(join(spool, f)).size, 0);
    expect(onDisk).toBeLessThanOrEqual(32 * 1024);
    const metrics = await h.run.metrics.scrape();
    const dropped = Number(/^idp_egress_syslog_dropped_events_total\{reason="disk_full"\} (\d+)$/m.exec(metrics)![1]);
    expect(dropped).toBeGreaterThan(0);
    await c.resume();
    // Every line counts here, the gateway's own included (a refused connection is one): they queue alike.
    const lines = auditFile(join(h.dir, 'audit.jsonl')).map((e) => JSON.stringify(e));
    const received = () => c.raw().map((r) => JSON.stringify(jsonOf(r)));
    await until(() => received().length + dropped >= lines.length, 20_000, 'what was kept arrived');
    const got = received().slice(0, lines.length - dropped);
    // The first 10 were in memory; the drops are the oldest of the spool; the rest is the newest, unbroken.
    expect(got.slice(0, 10)).toEqual(lines.slice(0, 10));
    expect(got.slice(10)).toEqual(lines.slice(10 + dropped));
  });

  it('spools on shutdown what the collector did not take, and sends it first on the next start', async () => {
    const c = await collector();
    await c.stop();
    const h = await gateway(`    target: 127.0.0.1:${c.port}\n    transport: tcp\n    queue:\n      directory: ${'spool'}`);
    await traffic(h, 25);
    await until(() => requestCount(h) >= 25, 10_000, 'every call is in the file');
    const before = fileIds(h);
    await h.run.close(300);
    running.splice(running.indexOf(h), 1);
    expect(readdirSync(join(h.dir, 'spool')).length).toBeGreaterThan(0);
    await c.resume();
    // A second gateway on the same config and spool.
    const again = await startHarnessIn(h);
    await until(() => receivedIds(c).length >= before.length, 10_000, 'the spooled events arrived');
    expect(receivedIds(c).slice(0, before.length)).toEqual(before);
    expect(auditFile(join(again.dir, 'audit.jsonl')).some((e) => e.msg === 'syslog: events spooled by an earlier run are sent first')).toBe(true);
  });
});

/** A gateway started again from a harness's own config file and folder. */
async function startHarnessIn(h: Harness): Promise<{ dir: string }> {
  const { startGateway } = await import('../../../src/serve.js');
  const run = await startGateway({ configFile: h.configFile, cwd: h.dir, note: () => {} });
  running.push({ close: () => run.close(500) });
  return { dir: h.dir };
}

/** CEF extension key=value pairs: a key starts where ` word=` follows an unescaped value. */
function parseCefExtension(ext: string): Record<string, string> {
  const out: Record<string, string> = {};
  const keys = [...ext.matchAll(/(?:^| )([A-Za-z0-9]+)=/g)];
  keys.forEach((m, i) => {
    const start = m.index + m[0].length;
    const end = i + 1 < keys.length ? keys[i + 1]!.index : ext.length;
    out[m[1]!] = ext.slice(start, end).replace(/\\([=\\])/g, '$1').replace(/\\n/g, '\n').replace(/\\r/g, '\r');
  });
  return out;
}
