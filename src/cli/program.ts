import { Command, CommanderError, Option } from 'commander';
import { ConfigError } from '../core/errors.js';
import { PACKAGE_VERSION } from '../core/package-root.js';
import { RULES_POSTURES, type RulesPosture } from '../config/schema.js';
import { loadPolicy, type LoadedPolicy } from '../policy/load.js';
import { CA_EXPORT_FORMATS, runCaExport, runCaInit, type CaExportFormat } from './ca.js';
import { runCheck } from './check.js';
import { ENDPOINT_FORMATS, runEndpoints, type EndpointFormat } from './endpoints.js';
import { runExplain } from './explain.js';
import { EXIT, type CliIo } from './io.js';
import { runJvm } from './jvm.js';
import { runPacksDiff } from './packs.js';
import { runProbe } from './probe.js';
import { runReport } from './report.js';
import { runRules } from './rules.js';
import { RULES_FORMAT_NAMES, type RulesFormat } from '../rules/formats.js';
import { KUBERNETES_DEFAULTS } from '../rules/kubernetes.js';
import { SQUID_DEFAULTS } from '../rules/squid.js';
import { REPORT_FORMATS, type ReportFormat } from '../report/render.js';
import { runServe } from './serve.js';

const CONFIG_HELP = 'site config file (default: ./idp-egress.yaml if present, else the embedded default)';

/** Runs the idp-egress command line; returns the exit status instead of exiting. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let status: number = EXIT.OK;
  const load = (configFile: string | undefined): LoadedPolicy => loadPolicy({ configFile, cwd: io.cwd });

  const program = new Command('idp-egress')
    .description('Egress gateway for identity-provider user sync: allowlist, audit and firewall rules.')
    .version(`idp-egress ${PACKAGE_VERSION} (Node.js ${process.version})`, '-V, --version', 'print the version and the Node.js it runs on')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  program
    .command('serve')
    .description('run the gateway (the default command): a forward proxy on 127.0.0.1:3128 unless the config says otherwise')
    .option('-c, --config <file>', CONFIG_HELP)
    .addHelpText(
      'after',
      '\nExamples:\n  idp-egress serve\n  idp-egress serve --config /etc/idp-egress/idp-egress.yaml\n\nOn first start without a CA it creates one under certs/ and says how to trust it.\nSIGTERM/SIGINT drain in-flight requests (limits.shutdownGrace) and exit 0; SIGHUP reloads the\nconfig and packs, keeping the old policy if the new one is invalid (listen, admin, log, limits,\nupstream and ca settings apply at the next restart).',
    )
    .action(async (opts: { config?: string }) => {
      status = await runServe(opts.config, io);
    });

  program
    .command('check')
    .description('validate the config and policy packs; print what is enabled and warnings')
    .option('-c, --config <file>', CONFIG_HELP)
    .addHelpText('after', '\nExamples:\n  idp-egress check\n  idp-egress check --config /etc/idp-egress/idp-egress.yaml\n\nExit status: 0 valid, 1 invalid (each problem is printed as file:line:col).')
    .action((opts: { config?: string }) => {
      status = runCheck(load(opts.config), io);
    });

  program
    .command('explain')
    .description('show the decision for one request, exactly as given, and why')
    .argument('<method>', 'HTTP method, e.g. GET or POST')
    .argument('<url>', 'absolute URL, e.g. https://graph.microsoft.com/v1.0/users')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--json', 'print the decision as JSON')
    .option('--sni <name>', 'judge as if the TLS server name were this')
    .option('--host-header <value>', 'judge as if the Host header were this')
    .addHelpText(
      'after',
      `\nExamples:\n  idp-egress explain GET 'https://graph.microsoft.com/v1.0/users?$top=999'\n  idp-egress explain POST https://login.microsoftonline.com/common/oauth2/v2.0/token\n  idp-egress explain --json GET https://acme.okta.com/api/v1/groups\n\nQuote the URL in the shell ($ and & are special). The URL is judged byte for byte: dot segments\nand percent-encoding are not normalised first, just as the gateway does not.\n\nExit status: 0 allowed, 3 denied, 1 bad config or usage.`,
    )
    .action((method: string, url: string, opts: { config?: string; json?: boolean; sni?: string; hostHeader?: string }) => {
      status = runExplain(load(opts.config), method, url, opts, io);
    });

  program
    .command('endpoints')
    .description('print the effective allowlist: every endpoint of every enabled provider')
    .option('-c, --config <file>', CONFIG_HELP)
    .addOption(new Option('-f, --format <format>', 'output format').choices(ENDPOINT_FORMATS).default('table'))
    .addHelpText('after', '\nExamples:\n  idp-egress endpoints\n  idp-egress endpoints --format markdown > allowlist.md\n  idp-egress endpoints --format json --config site.yaml')
    .action((opts: { config?: string; format: EndpointFormat }) => {
      status = runEndpoints(load(opts.config), opts.format, io);
    });

  program
    .command('report')
    .description('usage report from audit logs: calls per endpoint, denials by path shape, endpoints never used')
    .argument('<log...>', 'audit log files (plain or gzipped, rotated ones too)')
    .option('-c, --config <file>', CONFIG_HELP)
    .addOption(new Option('-f, --format <format>', 'output format').choices(REPORT_FORMATS).default('text'))
    .option('--since <time>', 'only events at or after this time: ISO date/time, or a span back from now such as 24h or 7d')
    .option('--until <time>', 'only events before this time (same forms)')
    .option('--suggest', 'print the config changes that would allow the denied calls (text, markdown or json), ready to paste and review')
    .addHelpText(
      'after',
      '\nExamples:\n  idp-egress report logs/audit.jsonl\n  idp-egress report --suggest --since 7d logs/audit.jsonl\n  idp-egress report --since 7d --format markdown logs/audit.*.jsonl logs/old/*.gz > usage.md\n  idp-egress report --format json --since 2026-11-01 --until 2026-12-01 logs/*.jsonl',
    )
    .action(async (logs: string[], opts: { config?: string; format: ReportFormat; since?: string; until?: string; suggest?: boolean }) => {
      status = await runReport(load(opts.config), logs, opts, io);
    });

  program
    .command('rules')
    .description('the allowlist as rules for the firewalls and proxies a site runs (squid, nftables, Palo Alto, Azure, AWS, Cilium, Istio, ...)')
    .option('-c, --config <file>', CONFIG_HELP)
    .addOption(new Option('-f, --format <format>', 'output format, or all (with --out DIR)').choices([...RULES_FORMAT_NAMES, 'all']).makeOptionMandatory())
    .option('-o, --out <path>', 'write to this file (a folder with --format all)')
    .option('--provider <name>', 'only this provider')
    .addOption(new Option('--posture <posture>', 'nftables, iptables, ip6tables, cilium, cilium-l7, k8s-networkpolicy, suricata: idp-only (only the IdP traffic is constrained) or strict (the IdP endpoints and nothing else on the internet; default: rules.posture in the config)').choices([...RULES_POSTURES]))
    .option('--squid-ca <file>', `squid: the CA certificate and key (one PEM) Squid signs with (default ${SQUID_DEFAULTS.caFile})`)
    .option('--squid-listen <[address:]port>', `squid: the http_port Squid listens on (default ${SQUID_DEFAULTS.listen})`)
    .option('--squid-dropin', "squid: a file for Debian's /etc/squid/conf.d/ beside the stock squid.conf: no http_port of its own, host-level rules for the config's clients")
    .option('--proxy <host:port>', 'pac: the gateway as clients reach it (default: the config listen address)')
    .option('--from-log <log...>', 'only the hosts and endpoints that allowed calls used in these audit logs')
    .option('--verify', "after writing, check each file with its format's real validator where installed (squid -k parse, nft -c, iptables-restore --test, dnsmasq --test, suricata -T); exit 1 on a failure")
    .option('--namespace <name>', `cilium, istio, k8s-networkpolicy: the Atlassian pods' namespace (default ${KUBERNETES_DEFAULTS.namespace})`)
    .option('--pod-labels <k=v,...>', 'cilium, istio, k8s-networkpolicy: labels of the Atlassian pods (default: app.kubernetes.io/name in jira, confluence)')
    .addHelpText(
      'after',
      '\nExamples:\n  idp-egress rules --format hosts\n  idp-egress rules --format squid --squid-dropin > /etc/squid/conf.d/50-idp-egress.conf\n  idp-egress rules --format squid --squid-ca /etc/squid/egress-ca.pem --squid-listen 3129 > /etc/squid/idp-egress.conf\n  idp-egress rules --format hosts --from-log logs/audit.*.jsonl\n  idp-egress rules --format nftables --posture strict > /etc/nftables.d/idp-egress.nft\n  idp-egress rules --format cilium --namespace jira --pod-labels app.kubernetes.io/instance=jira-prod\n  idp-egress rules --format all --out rules/ --verify\n\nEach output starts with a comment saying what the format cannot express (Palo Alto lists have no\ncomments: that note goes to stderr). Set SOURCE_DATE_EPOCH\nfor byte-identical output across runs.',
    )
    .action(async (opts: { config?: string; format: RulesFormat | 'all'; out?: string; provider?: string; posture?: RulesPosture; squidCa?: string; squidListen?: string; squidDropin?: boolean; proxy?: string; fromLog?: string[]; namespace?: string; podLabels?: string; verify?: boolean }) => {
      status = await runRules(load(opts.config), opts, io);
    });

  program
    .command('probe')
    .description('test the network path to every provider host: DNS, TCP, TLS and one harmless HTTP request, with a fix for each failure')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--provider <name>', 'only this provider')
    .option('--via <url>', 'probe through this proxy, http://[user:password@]host:port (the gateway, or a corporate proxy)')
    .option('--ca <file...>', "also trust these CA certificates (PEM), e.g. a TLS-inspecting proxy's")
    .option('--timeout <ms>', 'bound of each step in milliseconds', '5000')
    .option('--json', 'print the results as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  idp-egress probe\n  idp-egress probe --provider entra-id\n  idp-egress probe --via http://127.0.0.1:3128\n  idp-egress probe --via http://proxy.corp.example:8080 --ca corp-root.pem --json\n\nWithout --via it tests the path from this host as the gateway takes it (directly, or through\nupstream.proxy); run it on the gateway host. With --via it tests the whole chain through that\nproxy, trusting the gateway CA (ca.cert) inside the tunnel.\nThe request carries no credentials: a token endpoint answering 400 or 401 proves the path.\nExit status 0 when every host passed, 2 when any failed, 1 on bad usage or config.',
    )
    .action(async (opts: { config?: string; provider?: string; via?: string; ca?: string[]; timeout?: string; json?: boolean }) => {
      status = await runProbe(load(opts.config), opts, io);
    });

  const ca = program.command('ca').description('create or export the interception CA');
  ca.command('init')
    .description('create a new interception CA (certs/ca.pem and certs/ca-key.pem by default)')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--force', 'replace an existing CA (every client must then trust the new one)')
    .addHelpText('after', '\nExamples:\n  idp-egress ca init\n  idp-egress ca init --force --config site.yaml')
    .action(async (opts: { config?: string; force?: boolean }) => {
      status = await runCaInit(opts.config, opts.force === true, io);
    });
  ca.command('export')
    .description('write the CA certificate (never its key) as PEM, DER or a Java PKCS#12 truststore')
    .option('-c, --config <file>', CONFIG_HELP)
    .addOption(new Option('-f, --format <format>', 'output format').choices(CA_EXPORT_FORMATS).default('pem'))
    .option('-o, --out <file>', 'write to this file (required for der and p12)')
    .option('--password <password>', 'PKCS#12 store password', 'changeit')
    .option('--alias <alias>', 'PKCS#12 entry alias', 'idp-egress-ca')
    .addHelpText(
      'after',
      '\nExamples:\n  idp-egress ca export > idp-egress-ca.pem\n  idp-egress ca export --format p12 --out truststore.p12\n  keytool -list -keystore truststore.p12 -storepass changeit   # shows a trustedCertEntry',
    )
    .action((opts: { config?: string; format: CaExportFormat; out?: string; password: string; alias: string }) => {
      status = runCaExport(opts.config, opts, io);
    });

  const packs = program.command('packs').description('the shipped policy packs and the vendor page they follow');
  packs
    .command('diff')
    .description("compare a saved copy of the vendor's User Sync endpoints page with the packs: rows added, removed and changed")
    .argument('<page>', 'the page as a browser saves it (HTML) or its text')
    .option('--json', 'print the differences as JSON')
    .option('--packs <dir>', 'compare with the packs in this folder instead of the shipped ones (a pack being updated)')
    .addHelpText(
      'after',
      `\nExamples:\n  idp-egress packs diff ~/Downloads/user-sync-endpoints.html\n  idp-egress packs diff --json page.txt\n  idp-egress packs diff --packs ./policies page.html\n\nExit status as diff(1): 0 identical, 1 different, 2 when the page or the packs cannot be read.`,
    )
    .action((page: string, opts: { json?: boolean; packs?: string }) => {
      status = runPacksDiff(page, opts, io);
    });

  program
    .command('jvm')
    .description('print the JVM flags and keytool commands for the Jira/Confluence server')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--proxy-host <host>', 'the name or address the Atlassian server uses to reach the gateway')
    .addHelpText('after', '\nExamples:\n  idp-egress jvm\n  idp-egress jvm --proxy-host egress.corp.example')
    .action((opts: { config?: string; proxyHost?: string }) => {
      status = runJvm(opts.config, opts.proxyHost, io);
    });

  // Bare `idp-egress` (or `idp-egress --config F`) serves; unknown words still get "did you mean".
  const args = argv.length === 0 || (argv[0]!.startsWith('-') && !['-h', '--help'].includes(argv[0]!)) ? ['serve', ...argv] : [...argv];
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through here too, with exit code 0.
      return err.exitCode === 0 ? EXIT.OK : EXIT.ERROR;
    }
    if (err instanceof ConfigError) {
      io.err(`idp-egress: the configuration is invalid:\n${err.message.replace(/^/gm, '  ')}\n`);
      return EXIT.ERROR;
    }
    throw err;
  }
  return status;
}
