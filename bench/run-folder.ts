import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A benchmark's folder for its run (a CA key, certificates, audit files of up to gigabytes):
 * removed by remove(), or when the process exits, so a bench that fails part-way leaves nothing
 * either. A bench whose children write there until they stop calls remove() once they have.
 */
export function runFolder(prefix: string): { readonly dir: string; readonly remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const remove = () => {
    process.off('exit', remove);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', remove);
  return { dir, remove };
}
