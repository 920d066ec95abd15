import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/program.js';
import { PACKAGE_ROOT } from '../../../src/core/package-root.js';

/**
 * Every `idp-egress ...` line in the shell examples of the README and docs/, run as written (up to
 * its first pipe, redirect or comment) on the embedded default config, and every complete command
 * quoted in the prose with its --format or needing no argument (never one with a placeholder such
 * as METHOD, F or [--json]): a renamed option or command
 * fails here before a reader meets it. Commands that need a running site are left out: serve and
 * probe reach the network, report reads the site's own logs.
 */
const NEEDS_A_SITE = new Set(['serve', 'probe', 'report']);
/** Quoted in prose, these are whole commands; any other bare name is a reference to the command. */
const COMPLETE_ALONE = new Set(['check', 'endpoints', 'jvm', 'ca init', 'ca export']);

function documentedCommands(): { where: string; args: string[] }[] {
  const files = ['README.md', ...readdirSync(join(PACKAGE_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const found: { where: string; args: string[] }[] = [];
  for (const file of files) {
    let shell = false;
    readFileSync(join(PACKAGE_ROOT, file), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (line.startsWith('```')) {
          shell = !shell && /^```(sh|bash|console)?\s*$/.test(line);
          return;
        }
        const m = shell ? /^(?:\$ )?(?:npx )?idp-egress\s+([^|>&#]*)/.exec(line) : null;
        const quoted = shell ? [] : [...line.matchAll(/`(?:npx )?idp-egress ([^`]+)`/g)].map((q) => q[1]!).filter(isWholeCommand);
        for (const text of m ? [m[1]!] : quoted) {
          const args = text.trim().split(/\s+/).filter(Boolean);
          if (args.length > 0 && !NEEDS_A_SITE.has(args[0]!)) found.push({ where: `${file}:${i + 1}`, args });
        }
      });
  }
  return found;
}

function isWholeCommand(text: string): boolean {
  if (/[[<|]|\.\.\.|\b[A-Z]+\b|^\/|\s\//.test(text)) return false;
  return text.includes('--format ') || COMPLETE_ALONE.has(text);
}

/** Runs `idp-egress ARGS` in a fresh folder with the embedded default config; `ca export` after `ca init`. */
async function run(args: readonly string[]): Promise<{ status: number; err: string }> {
  const cwd = mkdtempSync(join(tmpdir(), 'idp-egress-docs-'));
  let err = '';
  const io = { out: () => undefined, err: (t: string) => void (err += t), cwd };
  if (args[0] === 'ca' && args[1] === 'export') await runCli(['ca', 'init'], io);
  return { status: await runCli(args, io), err };
}

describe('the commands in the docs', () => {
  const commands = documentedCommands();

  it('are found (the extraction itself works)', () => {
    expect(commands.length).toBeGreaterThan(10);
    expect(commands.map((c) => c.args[0])).toEqual(expect.arrayContaining(['rules', 'check', 'ca', 'jvm', 'endpoints']));
  });

  it.each(commands.map((c) => [c.where, c.args] as const))('%s: idp-egress %s runs as written', async (_where, args) => {
    const r = await run(args);
    expect(r.err).not.toMatch(/unknown (option|command)|^error: /im);
    // --verify loads the Squid file as Squid would, with the CA at --squid-ca's default path; a
    // machine that is not the Squid host has none there, and the check says so (docs/rules.md).
    const failed = [...r.err.matchAll(/^verify (\S+): FAILED/gm)].map((m) => m[1]);
    if (args.includes('--verify') && failed.length > 0) {
      expect(r.status).toBe(1);
      expect(failed).toEqual(['squid']);
      expect(r.err).toContain("unable to load certificate file '/etc/squid/idp-egress-ca.pem'");
      return;
    }
    expect([0, 3], r.err).toContain(r.status);
  });
});
