import { spawn, type ChildProcess } from 'node:child_process';

/**
 * A benchmark's own process (the gateway, the upstream, the floor), started with this Node and
 * `nodeFlags`, under `wrapper` when given (valgrind); resolves once `ready` matches what it has
 * printed on `stream`, with all of it.
 */
export function startChild(args: string[], ready: RegExp, stream: 'stdout' | 'stderr', nodeFlags: string[] = [], wrapper: string[] = []): Promise<{ proc: ChildProcess; match: RegExpMatchArray; text: string }> {
  const command = [...wrapper, process.execPath, ...nodeFlags, ...args];
  const proc = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  // A benchmark that fails part-way must not leave its gateway and servers running.
  const stop = () => proc.kill('SIGKILL');
  process.once('exit', stop);
  proc.once('exit', () => process.off('exit', stop));
  let text = '';
  return new Promise((resolve, reject) => {
    proc[stream]!.on('data', (c: Buffer) => {
      text += c.toString();
      const m = ready.exec(text);
      if (m) resolve({ proc, match: m, text });
    });
    proc.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${text}`)));
  });
}
