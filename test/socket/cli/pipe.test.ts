// The built binary writing into a pipe whose reader has gone, as `idp-egress endpoints | head` does.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN } from '../../support/child.js';

describe('idp-egress | a reader that stops early', () => {
  it('ends quietly with status 0 when the pipe closes, for every command that prints', async () => {
    for (const args of [['endpoints', '--format', 'json'], ['explain', '--help'], ['rules', '--format', 'squid']]) {
      const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.destroy(); // the reader is gone before the first byte
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const status = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect({ args, status, stderr }).toEqual({ args, status: 0, stderr: '' });
    }
  });
});
