import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The installed package's root (where package.json and policies/ live). Found by walking up,
 * because the code runs both from src/ (tests) and from dist/src/ (the built CLI).
 */
export const PACKAGE_ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'policies'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('idp-egress: cannot find the package root (package.json beside policies/)');
    dir = up;
  }
})();

export const SHIPPED_PACKS_DIR: string = join(PACKAGE_ROOT, 'policies');

/** The installed version, as the rules headers and the probe's User-Agent name it. */
export const PACKAGE_VERSION: string = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
