import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';

/**
 * Setup for the unit project (vitest.config.ts): a unit test is pure, so opening a socket,
 * listening or starting a process fails it. Keeps `npm run test:unit` fast and honest.
 */
function refuse(what: string): never {
  throw new Error(`unit tests open no sockets and start no processes (${what}); move the file to test/socket/`);
}

// At the top level, before the test file is imported and captures a function (promisify(execFile)).
{
  net.Socket.prototype.connect = function connect() {
    refuse('net.Socket.connect');
  };
  net.Server.prototype.listen = function listen() {
    refuse('net.Server.listen');
  };
  for (const name of ['spawn', 'spawnSync', 'execFile', 'execFileSync', 'exec', 'execSync', 'fork'] as const) {
    Object.defineProperty(childProcess, name, { value: () => refuse(`child_process.${name}`), configurable: true, writable: true });
  }
  // `import { spawn } from 'node:child_process'` reads the ESM copy of the exports; this updates it.
  syncBuiltinESMExports();
}
