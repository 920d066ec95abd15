import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A bench tool's name and its one-line usage, as its errors and --help print them. */
export interface Tool {
  readonly name: string;
  readonly usage: string;
}

/** The tool's problem and its usage on stderr, exit status 2: a mistyped option is the caller's, not a crash. */
export function usageError(tool: Tool, problem: string): never {
  console.error(`${tool.name}: ${problem}\nusage: ${tool.usage}`);
  process.exit(2);
}

/**
 * The command line parsed by node:util's parseArgs (strict), with --help or -h printing the usage
 * and exiting 0, and an unknown option or a missing value ending as usageError rather than as the
 * stack trace parseArgs would throw.
 */
export function parseCommandLine<T extends Omit<ParseArgsConfig, 'args' | 'strict'>>(tool: Tool, config: T): ReturnType<typeof parseArgs<T & { args: string[]; strict: true }>> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(`usage: ${tool.usage}`);
    process.exit(0);
  }
  try {
    return parseArgs({ ...config, args, strict: true });
  } catch (err) {
    return usageError(tool, (err as Error).message);
  }
}

/** `text` as a number of at least 0 (`zero`) or above it (`positive`), or a usage error naming the option. */
export function numberOption(tool: Tool, option: string, text: string, least: 'positive' | 'zero'): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0 || (least === 'positive' && n === 0)) {
    usageError(tool, `--${option} ${JSON.stringify(text)} is not a ${least === 'positive' ? 'positive number' : 'number of at least 0'}`);
  }
  return n;
}
