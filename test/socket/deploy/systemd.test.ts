import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadSiteConfig, parseSiteConfig } from '../../../src/config/load.js';
import { uncommented } from '../../support/policy.js';
import { needs } from '../../support/tools.js';

const run = promisify(execFile);
const UNIT = new URL('../../../deploy/systemd/idp-egress.service', import.meta.url).pathname;
const CONFIG = new URL('../../../deploy/systemd/idp-egress.yaml', import.meta.url).pathname;

/** systemd-analyze verify exits 0 on values it ignores; anything it prints is a problem. */
async function verify(file: string): Promise<string> {
  const { stdout, stderr } = await run('systemd-analyze', ['verify', file]).catch((e: { stdout: string; stderr: string }) => e);
  return stdout + stderr;
}

const SYSTEMD = needs(['systemd-analyze'], 'apt-get install systemd');

describe('deploy/systemd/idp-egress.service', () => {
  it.skipIf(SYSTEMD.skip)(`passes systemd-analyze verify with nothing to say${SYSTEMD.why}`, async () => {
    expect(await verify(UNIT)).toBe('');
  });

  it.skipIf(SYSTEMD.skip)(`the check itself catches a mistyped value and an unknown key${SYSTEMD.why}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unit-'));
    const bad = join(dir, 'idp-egress.service');
    writeFileSync(bad, readFileSync(UNIT, 'utf8').replace('ProtectSystem=strict', 'ProtectSystem=sturdy').replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes'));
    const said = await verify(bad);
    expect(said).toContain('Failed to parse protect system value');
    expect(said).toContain("Unknown key 'NoNewPrivilege' in section [Service]");
  });

  it.skipIf(SYSTEMD.skip)(`is hardened: systemd-analyze security rates its exposure 2.0 or lower${SYSTEMD.why}`, async () => {
    const { stdout } = await run('systemd-analyze', ['security', '--offline=true', '--threshold=20', UNIT]);
    expect(stdout).toMatch(/Overall exposure level for idp-egress\.service: [0-2]\.\d/);
  });

  it('runs the gateway with the config it ships, which validates, writing only where the unit allows', () => {
    const unit = readFileSync(UNIT, 'utf8');
    expect(unit).toContain('ExecStart=/usr/bin/node --max-semi-space-size=32 --min-semi-space-size=32 --initial-old-space-size=64 /opt/idp-egress/dist/src/cli/main.js serve --config /etc/idp-egress/idp-egress.yaml');
    const config = loadSiteConfig(CONFIG, '/').config;
    // ProtectSystem=strict leaves only StateDirectory and LogsDirectory writable.
    for (const path of [config.ca.cert, config.ca.key, config.log.file!]) expect(path, path).toMatch(/^\/var\/(lib|log)\/idp-egress\//);
    expect(unit).toMatch(/^StateDirectory=idp-egress$/m);
    expect(unit).toMatch(/^LogsDirectory=idp-egress$/m);
  });

  it('ships SIEM delivery commented out: switched on it validates, spools in the StateDirectory and reads the CA from the ConfigurationDirectory', () => {
    const text = readFileSync(CONFIG, 'utf8');
    expect(loadSiteConfig(CONFIG, '/').config.log.syslog).toBeUndefined();
    const syslog = parseSiteConfig(CONFIG, uncommented(text)).log.syslog!;
    expect(syslog.target.port).toBe(6514);
    expect(syslog.transport).toBe('tls');
    expect(syslog.queue.directory).toMatch(/^\/var\/lib\/idp-egress\//);
    expect(syslog.tls.ca).toMatch(/^\/etc\/idp-egress\//);
    expect(readFileSync(UNIT, 'utf8')).toMatch(/^ConfigurationDirectory=idp-egress$/m);
  });
});
