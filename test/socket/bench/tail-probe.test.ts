import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProxyAgent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mark } from '../../../bench/tail-probe.js';
import { FLUSH_MS } from '../../../src/audit/outcome-batch.js';
import { PACKAGE_ROOT } from '../../../src/core/package-root.js';
import { BIN } from '../../support/child.js';
import { FakeProvider } from '../../support/fake-provider.js';
import { harnessConfig, PROVIDER_HOSTS } from '../../support/gateway.js';
import { testCa } from '../../support/pki.js';
import { until } from '../../support/wait.js';

// bench:tail reads what the probe marks inside the gateway; a probe that stopped seeing the
// sinks or the requests would make its "overlapping the sinks' work" share read zero, not wrong.
const PROBE = join(PACKAGE_ROOT, 'dist/bench/tail-probe.js');
let provider: FakeProvider;
let providerCaFile: string;

beforeAll(async () => {
  const providerCa = await testCa();
  provider = await FakeProvider.start(providerCa.ca, PROVIDER_HOSTS);
  provider.on('GET /v1.0/users/u1/manager', (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"m1"}'));
  providerCaFile = providerCa.certFile;
});
afterAll(() => provider.close());

describe('bench/tail-probe (inside the gateway)', () => {
  it("marks each request, the sinks' records and commits and V8's collections, and starts over after each dump", async () => {
    expect(existsSync(PROBE), 'run npm test (or npm run build) first').toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'idp-egress-tail-'));
    const configFile = join(dir, 'idp-egress.yaml');
    const out = join(dir, 'marks.json');
    writeFileSync(configFile, harnessConfig(provider.port, providerCaFile, { log: 'log:\n  stdout: false\n  file: audit.jsonl' }));
    const proc = spawn(process.execPath, ['--import', PROBE, BIN, 'serve', '--config', configFile], { cwd: dir, env: { ...process.env, TAIL_PROBE_OUT: out }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      await until(() => /listening on 127\.0\.0\.1:(\d+)/.test(stderr), 10_000, `the gateway listened:\n${stderr}`);
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(stderr)![1]);
      const dump = async (): Promise<Mark[]> => {
        const before = existsSync(out) ? readFileSync(out, 'utf8') : '';
        proc.kill('SIGUSR2');
        await until(() => existsSync(out) && readFileSync(out, 'utf8') !== before, 5000, 'the probe wrote its marks');
        return JSON.parse(readFileSync(out, 'utf8')) as Mark[];
      };
      // Start-up allocates well beyond V8's first young generation (1 MB a semi-space).
      const startUp = await dump();
      expect(startUp.some((m) => m[0] === 'scavenge' || m[0] === 'full')).toBe(true);
      const agent = new ProxyAgent({ uri: `http://127.0.0.1:${port}`, requestTls: { ca: readFileSync(join(dir, 'certs/ca.pem'), 'utf8') } });
      for (let i = 0; i < 2; i++) {
        const r = await request('https://graph.microsoft.com/v1.0/users/u1/manager', { dispatcher: agent });
        expect(r.statusCode).toBe(200);
        await r.body.text();
      }
      await agent.close();
      await new Promise((resolve) => setTimeout(resolve, FLUSH_MS * 4));
      const marks = await dump();
      expect(marks.filter((m) => m[0] === 'request')).toHaveLength(2);
      // The audit log and the metrics each take every record and every commit, so their marks
      // come in pairs: at least one record and one commit each.
      const sinkWork = marks.filter((m) => m[0] === 'sink');
      expect(sinkWork.length).toBeGreaterThanOrEqual(4);
      expect(sinkWork.length % 2).toBe(0);
      // Started over: nothing of the first dump again, everything after it.
      const firstDumpEnd = Math.max(...startUp.map((m) => m[2]));
      for (const [, start, end] of marks) {
        expect(start).toBeGreaterThan(firstDumpEnd);
        expect(end).toBeGreaterThanOrEqual(start);
      }
    } finally {
      proc.kill('SIGKILL');
    }
  });
});
