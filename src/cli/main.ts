#!/usr/bin/env node
import { nodeVersionProblem } from '../core/node-version.js';

// Checked before the rest loads: on an older Node.js a dependency would fail at import with a
// stack trace instead of this line.
const tooOld = nodeVersionProblem(process.version);
if (tooOld) {
  process.stderr.write(`${tooOld}\n`);
  process.exit(1);
}

const { processIo } = await import('./io.js');
const { runCli } = await import('./program.js');

// A reader that stops early (`idp-egress endpoints | head`) closes the pipe: for this process
// that is the end of its output, as it is for cat or grep, not a crash with a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
});

process.exitCode = await runCli(process.argv.slice(2), processIo);
