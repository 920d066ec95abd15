import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/program.js';

export interface CliRun {
  readonly status: number;
  readonly out: string;
  readonly err: string;
  /** The scratch folder it ran in, holding idp-egress.yaml and any files given. */
  readonly cwd: string;
}

/** Runs `idp-egress ARGS` in a fresh folder whose idp-egress.yaml is `site`, beside `files`. */
export async function cliIn(site: string, args: readonly string[], files: Readonly<Record<string, string>> = {}): Promise<CliRun> {
  const cwd = mkdtempSync(join(tmpdir(), 'idp-egress-cli-'));
  writeFileSync(join(cwd, 'idp-egress.yaml'), site);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(cwd, name), text);
  let out = '';
  let err = '';
  const status = await runCli(args, { out: (t) => (out += t), err: (t) => (err += t), cwd });
  return { status, out, err, cwd };
}
