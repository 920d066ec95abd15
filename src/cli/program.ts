import { Command, CommanderError, Option } from 'commander';
import { ConfigError } from '../errors.js';
import { loadPolicy, type LoadedPolicy } from '../policy/load.js';
import { runCheck } from './check.js';
import { ENDPOINT_FORMATS, runEndpoints, type EndpointFormat } from './endpoints.js';
import { runExplain } from './explain.js';
import { EXIT, type CliIo } from './io.js';

const CONFIG_HELP = 'site config file (default: ./idp-egress.yaml if present, else the embedded default)';

/** Runs the idp-egress command line; returns the exit status instead of exiting. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let status: number = EXIT.OK;
  const load = (configFile: string | undefined): LoadedPolicy => loadPolicy({ configFile, cwd: io.cwd });

  const program = new Command('idp-egress')
    .description('Egress gateway for identity-provider user sync: allowlist, audit and firewall rules.')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

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

  try {
    await program.parseAsync([...argv], { from: 'user' });
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
