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

/** The JSON events of an audit log file, as far as it has been written (none before it exists). */
export function auditFile(file: string): Record<string, unknown>[] {
  return existsSync(file) ? auditLines(readFileSync(file, 'utf8').split('\n')) : [];
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
