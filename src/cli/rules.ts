import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { LoadedPolicy } from '../policy/load.js';
import { header, rulesContext } from '../rules/context.js';
import { addressesFor, formatNotes, RULES_FORMAT_NAMES, RULES_FORMATS, type RulesFormat } from '../rules/formats.js';
import { gatewayForClients } from '../rules/jvm.js';
import { parseLabels } from '../rules/kubernetes.js';
import type { Resolver } from '../proxy/upstream.js';
import type { RulesPosture } from '../config/schema.js';
import { hostPortText, isLoopback, parseHostPort } from '../core/address.js';
import { narrowToUsed, usedInLogs } from '../rules/from-log.js';
import { verifyRulesFile } from '../rules/verify.js';
import { EXIT, providerProblem, type CliIo } from './io.js';

export interface RulesOptions {
  readonly format: RulesFormat | 'all';
  readonly out?: string | undefined;
  readonly provider?: string | undefined;
  /** nftables, iptables: overrides rules.posture. */
  readonly posture?: RulesPosture | undefined;
  readonly squidCa?: string | undefined;
  readonly squidListen?: string | undefined;
  readonly squidDropin?: boolean | undefined;
  /** The gateway as clients reach it (PAC); default from the config's listen address. */
  readonly proxy?: string | undefined;
  /** Only the hosts and endpoints allowed calls used in these audit logs. */
  readonly fromLog?: readonly string[] | undefined;
  /** Kubernetes formats: the namespace of the Atlassian pods, and their labels as k=v,k2=v2. */
  readonly namespace?: string | undefined;
  readonly podLabels?: string | undefined;
  /** After writing, check each file with its format's real validator where installed. */
  readonly verify?: boolean | undefined;
  /** DNS for IP-based formats; the system resolver unless a test injects one. */
  readonly resolver?: Resolver;
}

/** `idp-egress rules`: the policy as rules for the firewalls and proxies a site already runs. */
export async function runRules(loaded: LoadedPolicy, options: RulesOptions, io: CliIo): Promise<number> {
  const notEnabled = providerProblem(loaded.policy, options.provider);
  if (notEnabled) {
    io.err(notEnabled);
    return EXIT.ERROR;
  }
  const podLabels = options.podLabels === undefined ? undefined : parseLabels(options.podLabels);
  if (options.podLabels !== undefined && !podLabels) {
    io.err(`idp-egress: --pod-labels ${JSON.stringify(options.podLabels)} is not a list of Kubernetes labels; write key=value[,key=value], e.g. app.kubernetes.io/name=jira\n`);
    return EXIT.ERROR;
  }
  if (options.namespace !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(options.namespace)) {
    io.err(`idp-egress: --namespace ${JSON.stringify(options.namespace)} is not a Kubernetes namespace name (RFC 1123 label: lower case, digits and "-")\n`);
    return EXIT.ERROR;
  }
  if (options.format === 'all' && !options.out) {
    io.err('idp-egress: --format all writes one file per format; give --out DIR\n');
    return EXIT.ERROR;
  }
  const full = rulesContext(loaded, options.provider, process.env, options.posture);
  let ctx = full;
  if (options.fromLog) {
    const used = await usedInLogs(
      options.fromLog.map((f) => resolve(io.cwd, f)),
      (note) => io.err(`idp-egress: warning: ${note}\n`),
    );
    ctx = { ...full, hosts: narrowToUsed(full.hosts, used), source: `${full.source}, narrowed to the calls in ${options.fromLog.join(', ')}` };
  }
  const proxyAddress = options.proxy !== undefined ? parseHostPort(options.proxy) : (loaded.config.config.rules.proxy ?? gatewayForClients(loaded.config.config.listen));
  if (!proxyAddress) {
    // Not echoed when it carries user:password@: a PAC file cannot hold credentials anyway.
    const given = options.proxy?.includes('@') ? 'with credentials (user@)' : JSON.stringify(options.proxy);
    io.err(`idp-egress: --proxy ${given} is not host:port; write it as the clients reach the gateway, such as 10.0.0.5:3128\n`);
    return EXIT.ERROR;
  }
  const proxy = hostPortText(proxyAddress.host, proxyAddress.port);
  const wanted = options.format === 'all' ? RULES_FORMAT_NAMES : [options.format];
  if (wanted.includes('pac') && isLoopback(proxyAddress.host)) {
    io.err(`idp-egress: warning: the PAC file sends the allowlisted hosts to ${proxy}, a loopback address that only this machine can reach; give --proxy host:port (or rules.proxy in the config) as the clients reach the gateway\n`);
  }
  const resolved = await addressesFor(wanted, ctx, loaded.config.config, options.resolver);
  for (const [host, why] of resolved?.failed ?? []) io.err(`idp-egress: warning: ${host} did not resolve (${why}); IP-based rules leave it to the dynamic sets\n`);
  const render = (format: RulesFormat) => RULES_FORMATS[format].render(ctx, { squidCa: options.squidCa, squidListen: options.squidListen, squidDropIn: options.squidDropin, proxy, resolved, kubernetes: { namespace: options.namespace, podLabels } });
  // Formats without comment syntax (Palo Alto EDLs): the header goes to the operator instead.
  const notes = (format: RulesFormat) => {
    const cannot = formatNotes(format);
    if (cannot) io.err(header(ctx, 'note:', format, cannot));
  };
  const written: [RulesFormat, string][] = [];
  let stdoutCopyDir: string | undefined;
  if (options.format === 'all') {
    const dir = resolve(io.cwd, options.out!);
    mkdirSync(dir, { recursive: true });
    for (const format of wanted) {
      const file = join(dir, RULES_FORMATS[format].file);
      writeFileSync(file, render(format));
      written.push([format, file]);
      io.err(`wrote ${file}\n`);
      notes(format);
    }
  } else {
    const text = render(options.format);
    notes(options.format);
    if (options.out) {
      const file = resolve(io.cwd, options.out);
      writeFileSync(file, text);
      written.push([options.format, file]);
    } else {
      io.out(text);
      if (options.verify) {
        // What went to stdout is checked from a copy, removed once checked.
        stdoutCopyDir = mkdtempSync(join(tmpdir(), 'idp-egress-rules-'));
        const file = join(stdoutCopyDir, RULES_FORMATS[options.format].file);
        writeFileSync(file, text);
        written.push([options.format, file]);
      }
    }
  }
  if (!options.verify) return EXIT.OK;
  try {
    return await verifyAll(written, io);
  } finally {
    if (stdoutCopyDir) rmSync(stdoutCopyDir, { recursive: true, force: true });
  }
}

/** rules --verify: one line per file, the tool's complaint under a failure; exit 1 on any. */
async function verifyAll(files: readonly [RulesFormat, string][], io: CliIo): Promise<number> {
  let failed = 0;
  for (const [format, file] of files) {
    const v = await verifyRulesFile(format, file);
    if (v.result === 'ok') io.err(`verify ${format}: ok (${v.by})\n`);
    else if (v.result === 'not-checked') io.err(`verify ${format}: not checked: ${v.why}\n`);
    else {
      failed++;
      io.err(`verify ${format}: FAILED (${v.by}):\n${v.output.split('\n').map((l) => `    ${l}`).join('\n')}\n`);
    }
  }
  if (failed > 0) io.err(`idp-egress: ${failed} rules file${failed === 1 ? '' : 's'} failed verification; do not hand ${failed === 1 ? 'it' : 'them'} on\n`);
  return failed > 0 ? EXIT.ERROR : EXIT.OK;
}
