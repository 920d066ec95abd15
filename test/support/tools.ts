import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { SKIPS_DIR_ENV } from './skipped-summary.js';

/**
 * System tools a suite drives (nft, iptables, a JDK, ...). On a machine with Node alone the suite
 * is skipped, and its title says what to install; under CI (CI=true) a missing tool fails the run
 * instead, so CI can never go green by skipping.
 */
export function needs(tools: readonly string[], install: string, { root = false } = {}): { readonly skip: boolean; readonly why: string } {
  // A tool is a command on PATH, or a file that must exist (a plugin such as rsyslog's TLS driver).
  const missing = tools.filter((t) => {
    if (t.startsWith('/')) return !existsSync(t);
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  const notRoot = root && process.getuid?.() !== 0;
  if (missing.length === 0 && !notRoot) return { skip: false, why: '' };
  const why = `${missing.length > 0 ? `missing ${missing.join(', ')}: ${install}` : ''}${notRoot ? `${missing.length > 0 ? '; ' : ''}needs root (network namespaces)` : ''}`;
  if (process.env['CI'] === 'true') throw new Error(`CI=true and this suite cannot run: ${why}`);
  record(why);
  return { skip: true, why: ` [skipped: ${why}]` };
}

/** Tells the run's summary (skipped-summary.ts) what was skipped, from which test file, and why. */
function record(why: string): void {
  const dir = process.env[SKIPS_DIR_ENV];
  if (!dir) return;
  const file = /\/test\/[^\s:)]+\.test\.ts/.exec(new Error().stack ?? '')?.[0]?.slice(1) ?? 'a test file';
  appendFileSync(join(dir, `${process.pid}.jsonl`), `${JSON.stringify({ file, why })}\n`);
}
