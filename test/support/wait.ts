import { existsSync, readFileSync } from 'node:fs';

/**
 * Waiting for asynchronous work without fixed sleeps: poll the condition until a deadline, and
 * fail naming what was awaited. A busy machine makes a fixed sleep too short; a poll just waits.
 */
export async function until(done: () => boolean, timeoutMs = 3_000, what = 'the condition held'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Retries `attempt` until it resolves (a server still starting refuses or times out), then returns its value. */
export async function eventually<T>(attempt: () => Promise<T>, timeoutMs = 5_000, what = 'the attempt succeeded'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** The JSON events of an audit log file, as far as it has been written (none before it exists). */
export function auditFile(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  // A line being written as the file is read is left for the next read.
  const text = readFileSync(file, 'utf8');
  return auditLines(text.slice(0, text.lastIndexOf('\n') + 1).split('\n'));
}

/** The JSON audit events among captured output lines (the gateway's own lines included). */
export function auditLines(lines: readonly string[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const l of lines) {
    if (!l.startsWith('{')) continue;
    out.push(JSON.parse(l) as Record<string, unknown>);
  }
  return out;
}
