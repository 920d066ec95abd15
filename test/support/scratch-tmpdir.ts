import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * vitest globalSetup: every temporary file of the run (the tests' scratch folders, the CLI's and
 * the tools' own) goes under one folder that is removed when the run ends. os.tmpdir() reads
 * TMPDIR on each call, and the test workers and their children inherit it, so no test needs
 * its own clean-up; before this, each run left about 300 folders in /tmp.
 */
export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'idp-egress-test-'));
  // As /tmp itself: Squid drops to its own user and must reach the folders the tests open to it.
  chmodSync(root, 0o1777);
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
