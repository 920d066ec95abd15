import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { IPSET_V4, IPSET_V6 } from './iptables.js';
import type { RulesFormat } from './formats.js';

const run = promisify(execFile);

/**
 * `rules --verify`: each written file checked by the real tool that will load it, where that
 * tool is installed here, before the file goes to another team. The same checks the tests make
 * (docs/rules.md, "checked by").
 */
export type Verdict =
  | { readonly result: 'ok'; readonly by: string }
  | { readonly result: 'failed'; readonly by: string; readonly output: string }
  | { readonly result: 'not-checked'; readonly why: string };

interface Validator {
  /** What runs, as the report names it. */
  readonly by: string;
  /** Commands that must be installed, and the Debian packages that bring them. */
  readonly needs: readonly string[];
  readonly install: string;
  /** Resolves with the tool's complaint, or '' when it accepted the file. */
  readonly check: (file: string) => Promise<string>;
}

/** A command's output, and whether it exited 0. */
async function output(cmd: string, args: readonly string[]): Promise<{ ok: boolean; text: string }> {
  return run(cmd, args, { timeout: 60_000 }).then(
    ({ stdout, stderr }) => ({ ok: true, text: `${stdout}${stderr}` }),
    (e: { stdout?: string; stderr?: string; message: string }) => ({ ok: false, text: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message }),
  );
}

/** In a private network namespace, so that checking never touches this host's own rules. */
const inPrivateNetwork = (script: string) => output('unshare', ['-n', 'sh', '-c', script]);

const VALIDATORS: Partial<Record<RulesFormat, Validator>> = {
  squid: {
    by: 'squid -k parse',
    needs: ['squid'],
    install: 'apt-get install squid-openssl',
    // Squid exits 0 on bad regexes and missing files: its output is the verdict.
    check: async (file) =>
      (await output('squid', ['-k', 'parse', '-f', file])).text
        .split('\n')
        .filter((l) => /ERROR|WARNING|FATAL|Bungled|Warning:/.test(l))
        .join('\n'),
  },
  nftables: {
    by: 'nft -c -f (in a private network namespace)',
    needs: ['nft', 'unshare'],
    install: 'apt-get install nftables',
    check: async (file) => {
      const r = await output('unshare', ['-n', 'nft', '-c', '-f', file]);
      return r.ok ? '' : r.text;
    },
  },
  iptables: iptablesValidator('iptables', 4),
  ip6tables: iptablesValidator('ip6tables', 6),
  ipset: {
    by: 'ipset restore, twice (in a private network namespace)',
    needs: ['ipset', 'unshare'],
    install: 'apt-get install ipset',
    check: async (file) => {
      const r = await inPrivateNetwork(`ipset restore -exist -f '${file}' && ipset restore -exist -f '${file}'`);
      return r.ok ? '' : r.text;
    },
  },
  dnsmasq: {
    by: 'dnsmasq --test',
    needs: ['dnsmasq'],
    install: 'apt-get install dnsmasq-base',
    check: async (file) => {
      const r = await output('dnsmasq', ['--test', `--conf-file=${file}`]);
      return r.ok && /syntax check OK/.test(r.text) ? '' : r.text;
    },
  },
  suricata: {
    by: 'suricata -T',
    needs: ['suricata'],
    install: 'apt-get install -t bookworm-backports suricata',
    check: async (file) => {
      const logs = mkdtempSync(join(tmpdir(), 'idp-egress-verify-'));
      try {
        const r = await output('suricata', ['-T', '-c', '/etc/suricata/suricata.yaml', '-S', file, '-l', logs]);
        return r.ok ? '' : r.text;
      } finally {
        rmSync(logs, { recursive: true, force: true });
      }
    },
  },
};

/** CloudFormation's own linter, when a site has it (it is a Python tool, not a Debian package here). */
const cfnLint: Validator = {
  by: 'cfn-lint',
  needs: ['cfn-lint'],
  install: 'pipx install cfn-lint',
  check: async (file) => {
    const r = await output('cfn-lint', [file]);
    return r.ok ? '' : r.text;
  },
};
VALIDATORS['aws-network-firewall'] = cfnLint;
VALIDATORS['aws-network-firewall-suricata'] = cfnLint;

/** The chain refers to the ipset, which must exist where it is checked: created empty there. */
function iptablesValidator(tool: 'iptables' | 'ip6tables', family: 4 | 6): Validator {
  const set = family === 4 ? IPSET_V4 : IPSET_V6;
  return {
    by: `${tool}-restore --test (in a private network namespace, with an empty ${set})`,
    needs: [`${tool}-restore`, 'ipset', 'unshare'],
    install: 'apt-get install iptables ipset',
    check: async (file) => {
      const r = await inPrivateNetwork(`ipset create ${set} hash:net family ${family === 4 ? 'inet' : 'inet6'} && ${tool}-restore --test --noflush < '${file}'`);
      return r.ok ? '' : r.text;
    },
  };
}

async function installed(command: string): Promise<boolean> {
  return (await output('sh', ['-c', `command -v ${command}`])).ok;
}

/** Checks one written file of `format` with its format's tool. */
export async function verifyRulesFile(format: RulesFormat, file: string): Promise<Verdict> {
  const v = VALIDATORS[format];
  if (!v) return { result: 'not-checked', why: 'no offline validator exists for this format (docs/rules.md says how it is tested)' };
  for (const command of v.needs) {
    if (!(await installed(command))) return { result: 'not-checked', why: `${command} is not installed here (${v.install})` };
  }
  const complaint = (await v.check(file)).trim();
  return complaint === '' ? { result: 'ok', by: v.by } : { result: 'failed', by: v.by, output: complaint };
}
