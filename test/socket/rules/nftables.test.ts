import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runRules } from '../../../src/cli/rules.js';
import { loadPolicy } from '../../../src/policy/load.js';
import { needs } from '../../support/tools.js';

const run = promisify(execFile);
const SITE = `providers:
  entra-id: {}
  okta: {}
  keycloak:
    baseUrl: https://sso.example.org:8443
upstream:
  resolve:
    login.microsoftonline.com: 20.190.151.7:443
    graph.microsoft.com: "[2603:1006:2000::1]:443"
    sso.example.org: 10.20.0.5:8443
`;

async function rules(format: string, site = SITE, resolver?: (h: string) => Promise<{ address: string; family: number }[]>) {
  const cwd = mkdtempSync(join(tmpdir(), 'nft-'));
  writeFileSync(join(cwd, 'idp-egress.yaml'), site);
  let out = '';
  let err = '';
  const status = await runRules(loadPolicy({ cwd }), { format: format as 'nftables', ...(resolver ? { resolver } : {}) }, { out: (t) => (out += t), err: (t) => (err += t), cwd });
  const file = join(cwd, 'out');
  writeFileSync(file, out);
  return { status, out, err, file };
}

/** nft's kernel check inside a private network namespace: nothing touches the host's rules. */
async function nftCheck(file: string, apply = false): Promise<{ code: number; output: string }> {
  const args = apply ? ['-n', 'sh', '-c', `nft -f ${file} && nft list ruleset`] : ['-n', 'nft', '-c', '-f', file];
  return run('unshare', args).then(
    ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, output: e.stdout + e.stderr }),
  );
}

const NFT = needs(['nft', 'unshare', 'ip'], 'apt-get install nftables iproute2', { root: true });
const IPTABLES = needs(['iptables-restore', 'ip6tables-restore', 'ipset', 'unshare', 'ip'], 'apt-get install iptables ipset iproute2', { root: true });
const SURICATA = needs(['suricata'], 'apt-get install -t bookworm-backports suricata');
const DNSMASQ = needs(['dnsmasq'], 'apt-get install dnsmasq-base');

describe.skipIf(NFT.skip)(`nftables${NFT.why}`, () => {
  it('passes nft -c -f, and loads for real in a private network namespace', async () => {
    const r = await rules('nftables');
    expect(r.status).toBe(0);
    expect(await nftCheck(r.file)).toEqual({ code: 0, output: '' });
    const loaded = await nftCheck(r.file, true);
    expect(loaded.code).toBe(0);
    expect(loaded.output).toContain('20.190.151.7 comment "login.microsoftonline.com"');
    expect(loaded.output).toContain('2603:1006:2000::1 comment "graph.microsoft.com"');
    expect(loaded.output).toMatch(/tcp dport \{ 443, 8443 \} counter packets 0 bytes 0 reject with tcp reset/);
  });

  it('the check fails on a broken file (the test can fail)', async () => {
    const r = await rules('nftables');
    writeFileSync(r.file, r.out.replace('auto-merge', 'auto-merge\n\t\tbogus keyword'));
    expect((await nftCheck(r.file)).code).not.toBe(0);
  });

  it('says which hosts did not resolve, and leaves them to the dynamic sets', async () => {
    const resolver = async (host: string) => {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    };
    const r = await rules('nftables', 'providers:\n  entra-id: {}\n', resolver);
    expect(r.err).toContain('idp-egress: warning: graph.microsoft.com did not resolve (ENOTFOUND); IP-based rules leave it to the dynamic sets');
    expect(r.out).toContain('#   - unresolved at generation time (ENOTFOUND): login.microsoftonline.com; only the dynamic sets can allow it');
    expect(await nftCheck(r.file)).toEqual({ code: 0, output: '' });
  });
});

describe.skipIf(IPTABLES.skip)(`ipset and iptables${IPTABLES.why}`, () => {
  it('restore in a private network namespace: the sets (twice, as a refresh would), then v4 and v6 rules', async () => {
    const [sets, v4, v6] = [await rules('ipset'), await rules('iptables'), await rules('ip6tables')];
    expect(sets.out).toContain('add idp_egress_v4 20.190.151.7 comment "login.microsoftonline.com"\n');
    expect(sets.out).toContain('add idp_egress_v6 2603:1006:2000::1 comment "graph.microsoft.com"\n');
    expect(v4.out).toContain('-A IDP_EGRESS -p tcp -m multiport --dports 443,8443 -m set --match-set idp_egress_v4 dst');
    const script = `ipset restore -exist -f ${sets.file} && ipset restore -exist -f ${sets.file} && iptables-restore --test ${v4.file} && ip6tables-restore --test ${v6.file}`;
    await expect(run('unshare', ['-n', 'sh', '-c', script])).resolves.toBeDefined();
    // Without the sets loaded first, the rules must not pass: the check is real.
    await expect(run('unshare', ['-n', 'iptables-restore', '--test', v4.file])).rejects.toThrow(/doesn't exist|not exist/);
  });
});

describe.skipIf(SURICATA.skip)(`suricata${SURICATA.why}`, () => {
  async function suricataTest(file: string) {
    const logs = mkdtempSync(join(tmpdir(), 'suricata-'));
    return run('suricata', ['-T', '-c', '/etc/suricata/suricata.yaml', '-S', file, '-l', logs]).then(
      ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, output: e.stdout + e.stderr }),
    );
  }

  it('loads in suricata -T: SNI rules per host, one-label wildcards by pcre, handshakes first', async () => {
    const r = await rules('suricata');
    expect(r.out).toContain('tls.sni; content:"graph.microsoft.com"; nocase; startswith; endswith; sid:4210001; rev:1;)');
    expect(r.out).toContain('pcre:"/^[^.]+\\.okta\\.com$/i"');
    expect(r.out.split('\n').find((l) => !l.startsWith('#'))).toMatch(/^pass tcp .* flow:not_established;/);
    const checked = await suricataTest(r.file);
    expect(checked.code, checked.output).toBe(0);
    expect(checked.output).toContain('Configuration provided was successfully loaded');
  }, 60_000);

  it('the check fails on a broken rule (the test can fail)', async () => {
    const r = await rules('suricata');
    writeFileSync(r.file, `${r.out}pass tls any any -> any any (msg:"no sid";)\n`);
    expect((await suricataTest(r.file)).code).not.toBe(0);
  }, 60_000);
});

describe.skipIf(DNSMASQ.skip)(`dnsmasq${DNSMASQ.why}`, () => {
  it('passes dnsmasq --test and names the nft sets the nftables format declares', async () => {
    const r = await rules('dnsmasq');
    expect(r.out).toContain('nftset=/graph.microsoft.com/login.microsoftonline.com/sso.example.org/okta-emea.com/okta.com/oktapreview.com/4#inet#idp_egress#dyn_v4,6#inet#idp_egress#dyn_v6\n');
    const { stderr } = await run('dnsmasq', ['--test', `--conf-file=${r.file}`]);
    expect(stderr.trim()).toBe('dnsmasq: syntax check OK.');
  });
});
