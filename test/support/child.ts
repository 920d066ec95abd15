import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/core/package-root.js';

export const BIN = join(PACKAGE_ROOT, 'dist/src/cli/main.js');

/** The built idp-egress binary as a child process (npm test builds it first). */
export class Child {
  stderr = '';
  readonly exited: Promise<number | null>;

  private constructor(readonly proc: ChildProcess) {
    proc.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()));
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  }

  /** `prefix`: a command that runs node, as `prlimit --fsize=65536 --` does. */
  static async serve(configFile: string, cwd: string, prefix: readonly string[] = []): Promise<{ child: Child; port: number }> {
    return Child.listening(BIN, ['serve', '--config', configFile], cwd, prefix);
  }

  /** Any built script that says "listening on 127.0.0.1:PORT" on stderr (the bench's floors do). */
  static async listening(script: string, args: readonly string[], cwd = PACKAGE_ROOT, prefix: readonly string[] = []): Promise<{ child: Child; port: number }> {
    if (!existsSync(script)) throw new Error(`${script} is missing: run npm test (or npm run build) first`);
    const command = [...prefix, process.execPath, script, ...args];
    const child = new Child(spawn(command[0]!, command.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
    const line = await child.waitFor(/listening on 127\.0\.0\.1:(\d+)/);
    return { child, port: Number(line[1]) };
  }

  /** Waits until stderr matches, or fails with what it said. */
  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(this.stderr);
      if (m) return m;
      if (Date.now() > deadline || this.proc.exitCode !== null) throw new Error(`no ${pattern} in stderr:\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  kill(signal: NodeJS.Signals): void {
    this.proc.kill(signal);
  }
}
