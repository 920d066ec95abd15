// The audit log when its file cannot be written, with the built binary: a full disk (/dev/full
// answers every write with ENOSPC) and a file at the process's size limit (EFBIG), truncated as
// logrotate's copytruncate does, after which the lines kept meanwhile must all arrive.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProxyAgent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { Child } from '../../support/child.js';
import { BACKLOG, LineWriter, MAX_UNWRITTEN_BYTES } from '../../../src/audit/line-writer.js';
import type { AuditNotice } from '../../../src/audit/notice.js';
import { FakeProvider } from '../../support/fake-provider.js';
import { harnessConfig, PROVIDER_HOSTS } from '../../support/gateway.js';
import { testCa } from '../../support/pki.js';
import { needs } from '../../support/tools.js';
import { until } from '../../support/wait.js';

/** util-linux's prlimit sets the gateway's file size limit; Linux's /dev/full is the full disk. */
const TOOLS = needs(['prlimit', '/dev/full'], 'apt-get install util-linux (Linux only: /dev/full)');

/** coreutils' mkfifo makes the pipe whose reader never reads. */
const FIFO = needs(['mkfifo'], 'apt-get install coreutils');

/** The size limit of the second test: room for the CA's files and some 60 audit lines. */
const FILE_LIMIT = 64 * 1024;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function start(log: string, prefix: readonly string[] = []) {
  const providerCa = await testCa();
  const provider = await FakeProvider.start(providerCa.ca, PROVIDER_HOSTS);
  const dir = mkdtempSync(join(tmpdir(), 'idp-egress-disk-full-'));
  const configFile = join(dir, 'idp-egress.yaml');
  writeFileSync(configFile, harnessConfig(provider.port, providerCa.certFile, { log }));
  const { child, port } = await Child.serve(configFile, dir, prefix);
  let stdout = '';
  child.proc.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  const adminPort = Number((await child.waitFor(/admin on 127\.0\.0\.1:(\d+)/))[1]);
  const agent = new ProxyAgent({ uri: `http://127.0.0.1:${port}`, requestTls: { ca: readFileSync(join(dir, 'certs/ca.pem'), 'utf8') } });
  cleanups.push(async () => {
    if (child.proc.exitCode === null) child.kill('SIGKILL');
    await agent.close().catch(() => undefined);
    await provider.close();
  });
  const get = async (path: string) => {
    const res = await request(`https://graph.microsoft.com${path}`, { dispatcher: agent });
    await res.body.text();
    return res.statusCode;
  };
  const dashboard = async () => (await (await fetch(`http://127.0.0.1:${adminPort}/dashboard/state.json`)).json()) as { audit: { destination: string; code: string; since: number }[] };
  const readyz = async () => {
    const res = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
    return { status: res.status, body: (await res.json()) as { ready: boolean; checks: Record<string, boolean> } };
  };
  const metric = async (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text())?.[1]);
  return { child, dir, get, readyz, dashboard, metric, stdout: () => stdout };
}

function occurrences(text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern.source, 'g'))?.length ?? 0;
}

describe(`the audit log on a full disk${TOOLS.why}`, () => {
  it.skipIf(TOOLS.skip)('keeps serving when its file cannot be written, says so once, is not ready, and stops at SIGTERM saying what it lost', async () => {
    const g = await start('log:\n  stdout: true\n  file: /dev/full');
    for (let i = 0; i < 5; i++) expect(await g.get('/v1.0/users/u1/manager')).toBe(200);
    const cannot = /idp-egress: cannot write the audit log to \/dev\/full: ENOSPC; the gateway keeps serving/;
    await g.child.waitFor(cannot);
    // Still serving after the failure, and still judging: a denial is a denial.
    for (let i = 0; i < 5; i++) expect(await g.get('/v1.0/users/u1/manager')).toBe(200);
    expect(await g.get('/v1.0/users/u1/drive')).toBe(403);
    const ready = await g.readyz();
    expect(ready.status).toBe(503);
    expect(ready.body.checks).toMatchObject({ audit: false, policy: true, listener: true });
    // The live page says it too, in its facts about the gateway.
    expect((await g.dashboard()).audit).toEqual([{ destination: '/dev/full', code: 'ENOSPC', since: expect.any(Number) }]);
    // And /metrics, for the alert on it (deploy/prometheus: IdpEgressAuditNotWritten).
    expect(await g.metric('idp_egress_audit_unwritable_destinations')).toBe(1);
    // stdout is written all along: every event, and the trouble as a line of the audit's own.
    await until(() => occurrences(g.stdout(), /"event":"request"/) === 11, 5_000, 'stdout has every request');
    expect(g.stdout()).toMatch(/"level":50,.*"destination":"\/dev\/full","code":"ENOSPC","msg":"cannot write the audit log to \/dev\/full: ENOSPC/);
    g.child.kill('SIGTERM');
    // pino's destination retried ENOSPC forever in the exit path: this never resolved before.
    expect(await g.child.exited).toBe(0);
    expect(g.child.stderr).toMatch(/idp-egress: \d+ audit lines for \/dev\/full could not be written before the gateway stopped \(ENOSPC\) and are lost/);
    expect(occurrences(g.child.stderr, cannot)).toBe(1);
  });

  // As configured, and rotated daily as the systemd unit's config does (deploy/systemd/idp-egress.yaml).
  it.skipIf(TOOLS.skip).each([
    ['a file', '', 'logs/audit.jsonl'],
    ['a rotated file', '\n  rotate:\n    frequency: daily\n    keep: 30', 'logs/audit.1.jsonl'],
  ])('keeps the lines %s at its size limit could not take, and writes every one of them once it is truncated', async (_what, rotate, written) => {
    const g = await start(`log:\n  file: logs/audit.jsonl${rotate}`, ['prlimit', `--fsize=${FILE_LIMIT}`, '--']);
    const file = join(g.dir, written);
    let sent = 0;
    const cannot = new RegExp(`idp-egress: cannot write the audit log to ${file}: EFBIG`);
    while (!cannot.test(g.child.stderr)) {
      expect(await g.get('/v1.0/users/u1/manager')).toBe(200);
      sent++;
      expect(sent, 'the file reached its size limit').toBeLessThan(400);
    }
    for (let i = 0; i < 20; i++, sent++) expect(await g.get('/v1.0/users/u1/manager')).toBe(200);
    expect((await g.readyz()).body.checks['audit']).toBe(false);
    // Nothing reaches the file while it is at the limit; what it has, then room, as copytruncate makes.
    const before = readFileSync(file, 'utf8');
    truncateSync(file, 0);
    await g.child.waitFor(new RegExp(`idp-egress: the audit log is written to ${file} again, after \\d+ s of EFBIG; no line was lost`), 5_000);
    expect((await g.readyz()).status).toBe(200);
    expect((await g.dashboard()).audit).toEqual([]);
    expect(await g.metric('idp_egress_audit_unwritable_destinations')).toBe(0);
    for (let i = 0; i < 3; i++, sent++) expect(await g.get('/v1.0/users/u1/manager')).toBe(200);
    await until(() => occurrences(before + readFileSync(file, 'utf8'), /"event":"request"/) >= sent, 5_000, 'every request is in the file');
    const after = readFileSync(file, 'utf8');
    // A line cut at the limit goes on after the truncation: the two parts make every line whole.
    const lines = (before + after).split('\n').filter(Boolean);
    expect(lines.map((l) => JSON.parse(l) as { event?: string; msg?: string }).filter((e) => e.event === 'request')).toHaveLength(sent);
    // The file itself says where its gap was, in order: the trouble, then the recovery.
    expect(after).toMatch(/"msg":"cannot write the audit log to [^"]+: EFBIG;[\s\S]*"msg":"the audit log is written to [^"]+ again/);
  });
});

/**
 * A named pipe and a reader that holds it open (so opening it to write does not block) and reads
 * only when the test says so, through `reader`.
 */
function fifoWithIdleReader(): { fifo: string; reader: number } {
  const fifo = join(mkdtempSync(join(tmpdir(), 'line-writer-')), 'audit.fifo');
  execFileSync('mkfifo', [fifo]);
  return { fifo, reader: openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK) };
}

describe(`the audit log on a pipe that stops taking lines${FIFO.why}`, () => {
  it.skipIf(FIFO.skip)('says when lines start to be dropped behind a reader that stopped reading, and when it has caught up, with the count', async () => {
    const { fifo, reader } = fifoWithIdleReader();
    try {
      const notices: AuditNotice[] = [];
      let dropped = 0;
      const w = LineWriter.file(fifo, { notify: (n) => void notices.push(n), dropped: (n) => void (dropped += n) });
      const line = (i: number) => `${String(i).padStart(8, '0')} ${'z'.repeat(1014)}\n`;
      const total = MAX_UNWRITTEN_BYTES / 1024 + 10;
      for (let i = 0; i < total; i++) w.write(line(i));
      // The bound is full while nothing has been read: the last lines are dropped, and said at once.
      expect(dropped).toBe(10);
      expect(notices).toHaveLength(1);
      expect(notices[0]).toMatchObject({ level: 'error', fields: { destination: fifo, code: BACKLOG } });
      expect(notices[0]!.msg).toContain('is not taking lines as fast as they come (BACKLOG)');
      expect(w.unwritable?.code).toBe(BACKLOG);
      // The first write coming back is not the end of the backlog: 64 MB are still behind it.
      await new Promise((r) => setTimeout(r, 200));
      expect(notices).toHaveLength(1);

      // The reader reads again, everything the writer kept arrives in order, and the end is said.
      const received: Buffer[] = [];
      let bytes = 0;
      const chunk = Buffer.alloc(1 << 16);
      const expectedBytes = (total - dropped) * 1024;
      while (bytes < expectedBytes) {
        let n = 0;
        try {
          n = readSync(reader, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
          await new Promise((r) => setTimeout(r, 1));
          continue;
        }
        received.push(Buffer.from(chunk.subarray(0, n)));
        bytes += n;
      }
      const expected: string[] = [];
      for (let i = 0; i < total - dropped; i++) expected.push(line(i));
      expect(Buffer.concat(received).toString('utf8') === expected.join('')).toBe(true);
      await expect.poll(() => notices.length).toBe(2);
      expect(notices[1]).toMatchObject({ level: 'error', fields: { destination: fifo, code: BACKLOG, lostLines: 10 } });
      expect(w.unwritable).toBeUndefined();
    } finally {
      closeSync(reader);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  it.skipIf(FIFO.skip)('does not wait at close for a write a pipe never takes (its reader stopped reading), and says what is lost', async () => {
    // The reader never reads: the writer's write blocks once the pipe is full.
    const { fifo, reader } = fifoWithIdleReader();
    try {
      const notices: AuditNotice[] = [];
      const w = LineWriter.file(fifo, { notify: (n) => void notices.push(n), dropped: () => undefined });
      const line = `${'z'.repeat(1023)}\n`;
      for (let i = 0; i < 200; i++) w.write(line);
      const started = Date.now();
      await w.close(300);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(notices).toHaveLength(1);
      expect(notices[0]!.msg).toMatch(new RegExp(`^\\d+ audit lines for ${fifo} could not be written before the gateway stopped \\(a write did not come back within 0\\.3 s\\) and are lost$`));
      expect(notices[0]!.fields['lostLines']).toBeGreaterThan(100);
    } finally {
      // The blocked write ends with the reader gone, so no thread stays stuck after the test; its
      // late callback must find nothing to do (it once threw, on what close() had given up).
      closeSync(reader);
      await new Promise((r) => setTimeout(r, 200));
    }
  });
});
