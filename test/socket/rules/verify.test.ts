import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyRulesFile } from '../../../src/rules/verify.js';
import { cliIn } from '../../support/cli.js';
import { testCa } from '../../support/pki.js';
import { RULES_SITE } from '../../support/policy.js';
import { needs } from '../../support/tools.js';

const tools = needs(['squid', 'nft', 'unshare', 'iptables-restore', 'ip6tables-restore', 'ipset', 'dnsmasq', 'suricata'], 'apt-get install squid-openssl nftables iptables ipset dnsmasq-base, and suricata from bookworm-backports', { root: true });

describe.skipIf(tools.skip)(`rules --verify${tools.why}`, () => {
  it('checks every written file with its real validator, and says which formats have none here', async () => {
    const { ca, dir } = await testCa();
    const squidCa = join(dir, 'squid-ca.pem');
    writeFileSync(squidCa, ca.certPem + readFileSync(join(dir, 'ca-key.pem'), 'utf8'));
    const r = await cliIn(RULES_SITE, ['rules', '--format', 'all', '--out', 'out', '--squid-ca', squidCa, '--verify']);
    expect(r.status, r.err).toBe(0);
    for (const [format, tool] of [['squid', 'squid -k parse'], ['nftables', 'nft -c -f'], ['ipset', 'ipset restore'], ['iptables', 'iptables-restore --test'], ['ip6tables', 'ip6tables-restore --test'], ['dnsmasq', 'dnsmasq --test'], ['suricata', 'suricata -T']]) {
      expect(r.err).toContain(`verify ${format}: ok (${tool}`);
    }
    expect(r.err).toContain('verify csv: not checked: no offline validator exists for this format');
    expect(r.err).toMatch(/verify aws-network-firewall: (ok \(cfn-lint\)|not checked: cfn-lint is not installed here)/);
  }, 120_000);

  it('fails, exit 1, when a validator refuses a file, and prints what it said', async () => {
    // Squid without the CA it signs with: a real configuration mistake a receiving team would hit.
    // TMPDIR of its own, to see that the copy of stdout it checked is not left behind.
    const tmp = mkdtempSync(join(tmpdir(), 'verify-tmp-'));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    const r = await cliIn(RULES_SITE, ['rules', '--format', 'squid', '--squid-ca', '/nonexistent/ca.pem', '--verify']).finally(() => (process.env.TMPDIR = saved));
    expect(readdirSync(tmp).filter((name) => name.startsWith('idp-egress-rules-'))).toEqual([]);
    expect(r.status).toBe(1);
    expect(r.err).toMatch(/verify squid: FAILED \(squid -k parse\):\n {4}.*\/nonexistent\/ca\.pem/);
    expect(r.err).toContain('idp-egress: 1 rules file failed verification; do not hand it on');
    // The stdout copy was checked; what was printed is the file itself.
    expect(r.out).toMatch(/^# idp-egress rules, format squid/);
  }, 60_000);

  it('verifyRulesFile refuses a broken nftables file and a broken chain', async () => {
    const r = await cliIn(RULES_SITE, ['rules', '--format', 'nftables', '--out', 'x.nft']);
    const file = join(r.cwd, 'x.nft');
    expect(await verifyRulesFile('nftables', file)).toMatchObject({ result: 'ok' });
    writeFileSync(file, readFileSync(file, 'utf8').replace('policy accept;', 'policy acept;'));
    expect(await verifyRulesFile('nftables', file)).toMatchObject({ result: 'failed' });
    const v4 = await cliIn(RULES_SITE, ['rules', '--format', 'iptables', '--out', 'v4']);
    const chain = join(v4.cwd, 'v4');
    expect(await verifyRulesFile('iptables', chain)).toMatchObject({ result: 'ok' });
    writeFileSync(chain, readFileSync(chain, 'utf8').replace('-j REJECT', '-j REJEKT'));
    expect(await verifyRulesFile('iptables', chain)).toMatchObject({ result: 'failed' });
  }, 60_000);
});
