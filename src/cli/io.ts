import type { Policy } from '../policy/model.js';

/** Where a command writes. The binary passes the process streams; tests pass buffers. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly cwd: string;
}

export const processIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  cwd: process.cwd(),
};

/** Exit statuses shared by every command (docs/commands.md). */
export const EXIT = {
  OK: 0,
  /** Bad config, bad pack or bad usage. */
  ERROR: 1,
  /** probe: at least one host failed a step. */
  PROBE_FAILED: 2,
  /** explain: the request would be denied. */
  DENIED: 3,
  /** packs diff, as diff(1): the page and the packs differ (1), or they could not be compared (2). */
  DIFFERENT: 1,
  CANNOT_COMPARE: 2,
} as const;

/** For --provider: why `name` cannot be narrowed to (not an enabled provider), or undefined. */
export function providerProblem(policy: Policy, name: string | undefined): string | undefined {
  if (name === undefined || policy.providers.some((p) => p.provider === name && p.enabled)) return undefined;
  const on = policy.providers.filter((p) => p.enabled).map((p) => p.provider);
  return `idp-egress: provider ${JSON.stringify(name)} is not enabled; enabled: ${on.join(', ')}\n`;
}
