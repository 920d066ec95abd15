import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../../src/core/package-root.js';

// The bench tools a person runs by hand (bench/command-line.ts): --help answers, and a mistyped
// option is a usage error (exit 2), before any of them starts a server or a round.
const run = promisify(execFile);
const TOOLS = [
  { tool: 'harness-p99', usage: 'node dist/bench/harness-p99.js --run RUN_DIR' },
  { tool: 'per-thread', usage: 'node dist/bench/per-thread.js --harness DIR --run RUN_DIR --url URL' },
  { tool: 'tail', usage: 'node dist/bench/tail.js [--rounds N]' },
];
const script = (tool: string) => join(PACKAGE_ROOT, `dist/bench/${tool}.js`);
const failed = (tool: string, args: string[]) =>
  run(process.execPath, [script(tool), ...args], { timeout: 20_000 }).then(
    () => expect.unreachable(`${tool} ${args.join(' ')} should have failed`),
    (err: { code: number; stdout: string; stderr: string }) => err,
  );

describe('the bench tools\' command lines', () => {
  it.each(TOOLS)('$tool --help prints its usage and exits 0', async ({ tool, usage }) => {
    for (const help of ['--help', '-h']) {
      const { stdout, stderr } = await run(process.execPath, [script(tool), help], { timeout: 20_000 });
      expect(stdout).toContain(`usage: ${usage}`);
      expect(stderr).toBe('');
    }
  });

  it.each(TOOLS)('$tool names an unknown option and a bad number, with its usage, and exits 2', async ({ tool, usage }) => {
    const unknown = await failed(tool, ['--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(new RegExp(`^${tool}: Unknown option '--bogus'`));
    expect(unknown.stderr).toContain(`usage: ${usage}`);
    expect(unknown.stderr).not.toMatch(/\n\s+at /);
    // Numbers are read before anything else, so no run folder or harness is needed to get here.
    const badNumber = await failed(tool, ['--rounds', 'many']);
    expect(badNumber.code).toBe(2);
    expect(badNumber.stderr).toContain(`--rounds "many" is not a positive number`);
  });
});
