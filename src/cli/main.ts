#!/usr/bin/env node
import { processIo } from './io.js';
import { runCli } from './program.js';

// A reader that stops early (`idp-egress endpoints | head`) closes the pipe: for this process
// that is the end of its output, as it is for cat or grep, not a crash with a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
});

process.exitCode = await runCli(process.argv.slice(2), processIo);
