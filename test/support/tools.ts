import { execFileSync } from 'node:child_process';

/**
 * System tools a suite drives (nft, iptables, a JDK, ...). On a machine with Node alone the suite
 * is skipped, and its title says what to install; under CI (CI=true) a missing tool fails the run
 * instead, so CI can never go green by skipping.
 */
export function needs(tools: readonly string[], install: string, { root = false } = {}): { readonly skip: boolean; readonly why: string } {
  const missing = tools.filter((t) => {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  const notRoot = root && process.getuid?.() !== 0;
  if (missing.length === 0 && !notRoot) return { skip: false, why: '' };
  const why = `${missing.length > 0 ? `missing ${missing.join(', ')}: ${install}` : ''}${notRoot ? `${missing.length > 0 ? '; ' : ''}needs root (network namespaces)` : ''}`;
  if (process.env['CI'] === 'true') throw new Error(`CI=true and this suite cannot run: ${why}`);
  return { skip: true, why: ` [skipped: ${why}]` };
}
