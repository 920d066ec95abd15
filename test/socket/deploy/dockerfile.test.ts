// No Docker engine runs on these machines, so this does what the image does without one: the
// runtime stage's own npm command installs the production dependencies into a fresh folder,
// the image's ENTRYPOINT starts the gateway there, and /healthz (the HEALTHCHECK) answers.
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseSiteConfig } from '../../../src/config/load.js';
import { PACKAGE_ROOT } from '../../../src/core/package-root.js';

const run = promisify(execFile);
const dockerfile = readFileSync(join(PACKAGE_ROOT, 'Dockerfile'), 'utf8');
const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
const instruction = (name: string) => new RegExp(`^${name} (.*)$`, 'm').exec(runtimeStage)?.[1];

describe('Dockerfile', () => {
  it('is multi-stage, runs as a non-root user, exposes 3128 and 9090, and checks /healthz', () => {
    expect(dockerfile.match(/^FROM node:(22|24)-bookworm-slim/gm)).toHaveLength(2);
    expect(instruction('USER')).toBe('node');
    expect(instruction('EXPOSE')).toBe('3128 9090');
    expect(instruction('HEALTHCHECK')).toContain('/healthz');
    expect(instruction('STOPSIGNAL')).toBe('SIGTERM');
  });

  it("ships a config that passes idp-egress check's validation", () => {
    expect(() => parseSiteConfig('deploy/idp-egress.yaml', readFileSync(join(PACKAGE_ROOT, 'deploy/idp-egress.yaml'), 'utf8'))).not.toThrow();
  });

  it('installs with its own command, starts with its own entrypoint, and answers /healthz', async () => {
    const app = mkdtempSync(join(tmpdir(), 'image-'));
    // What the runtime stage copies: the manifests, the compiled code (npm test built it), the packs.
    for (const f of ['package.json', 'package-lock.json']) cpSync(join(PACKAGE_ROOT, f), join(app, f));
    cpSync(join(PACKAGE_ROOT, 'dist/src'), join(app, 'dist/src'), { recursive: true });
    cpSync(join(PACKAGE_ROOT, 'policies'), join(app, 'policies'), { recursive: true });
    const install = /^RUN (npm ci --omit=dev[^&]*)/m.exec(runtimeStage)![1]!.trim();
    await run('sh', ['-c', install], { cwd: app, timeout: 180_000 });
    // Only dependencies, no dev tooling, in the image.
    await expect(run('node', ['-e', "require.resolve('vitest')"], { cwd: app })).rejects.toThrow();

    const config = join(app, 'test-config.yaml');
    writeFileSync(config, `listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nlog:\n  stdout: false\n`);
    const entrypoint = JSON.parse(instruction('ENTRYPOINT')!) as string[];
    const cmd = JSON.parse(instruction('CMD')!) as string[];
    const args = cmd.map((a) => (a.endsWith('idp-egress.yaml') ? config : a));
    const child = spawn(entrypoint[0]!, [...entrypoint.slice(1), ...args], { cwd: app, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      const deadline = Date.now() + 20_000;
      let port: string | undefined;
      while (!(port = /admin on 127\.0\.0\.1:(\d+)/.exec(stderr)?.[1]) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(port, stderr).toBeDefined();
      // The ENTRYPOINT passes the node options the gateway is tuned for (src/core/gc-tuning.ts).
      expect(stderr).not.toContain('node was started without');
      // The banner names every admin route, /rules/<format> included.
      expect(stderr).toContain(`admin on 127.0.0.1:${port} (/ (the live dashboard), /healthz, /readyz, /metrics, /ca.pem, /rules/<format>)`);
      // The HEALTHCHECK's own command, pointed at this admin port.
      const healthcheck = JSON.parse(instruction('HEALTHCHECK')!.replace(/^.*CMD /, '')) as string[];
      const probe = healthcheck.map((a) => a.replace('127.0.0.1:9090', `127.0.0.1:${port}`));
      await expect(run(probe[0]!, probe.slice(1), { cwd: app })).resolves.toBeDefined();
    } finally {
      child.kill('SIGTERM');
    }
    expect(await new Promise((r) => child.once('exit', r))).toBe(0);
  }, 240_000);
});
