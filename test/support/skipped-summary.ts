import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where needs() (tools.ts) writes what it skipped: set here, inherited by the test workers. */
export const SKIPS_DIR_ENV = 'IDP_EGRESS_TEST_SKIPS';

/**
 * vitest globalSetup: after the run, says which tests were skipped for a missing system tool and
 * what to install, so a green run on a machine with Node alone is never mistaken for a full one.
 */
export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'idp-egress-skips-'));
  process.env[SKIPS_DIR_ENV] = dir;
  return () => {
    const byReason = new Map<string, Set<string>>();
    for (const name of readdirSync(dir)) {
      for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) {
        if (!line) continue;
        const { file, why } = JSON.parse(line) as { file: string; why: string };
        byReason.set(why, (byReason.get(why) ?? new Set()).add(file));
      }
    }
    rmSync(dir, { recursive: true, force: true });
    if (byReason.size === 0) return;
    const lines = [...byReason].sort().map(([why, files]) => `  ${why}\n    in ${[...files].sort().join(', ')}`);
    process.stdout.write(`\nSkipped for a missing system tool (CI=true fails instead; .ci/run installs them all):\n${lines.join('\n')}\n`);
  };
}
