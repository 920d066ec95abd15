import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../core/errors.js';
import { deepFreeze } from '../core/freeze.js';
import { parseLocatedYaml } from '../core/located-yaml.js';
import { siteConfigSchema, type SiteConfig } from './schema.js';

export const DEFAULT_CONFIG_FILE = 'idp-egress.yaml';

export interface LoadedConfig {
  readonly config: SiteConfig;
  /** The file read, or undefined for the embedded default. */
  readonly file: string | undefined;
  /** Relative paths in the config (CA, log file, upstream CA) resolve against this folder. */
  readonly baseDir: string;
  /** The file's text as read, to locate problems found after validation; undefined for the default. */
  readonly text?: string | undefined;
}

/**
 * Finds and loads the site config: `--config FILE`, else idp-egress.yaml in the working folder,
 * else the embedded default (every key at its default: all packs, unbound, enforce, intercept).
 */
export function loadSiteConfig(explicitFile?: string, cwd: string = process.cwd()): LoadedConfig {
  const file = explicitFile !== undefined ? resolve(cwd, explicitFile) : existsSync(resolve(cwd, DEFAULT_CONFIG_FILE)) ? resolve(cwd, DEFAULT_CONFIG_FILE) : undefined;
  if (file === undefined) {
    return { config: deepFreeze(siteConfigSchema.parse({})), file: undefined, baseDir: cwd };
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new ConfigError([{ code: 'CONFIG_UNREADABLE', file, line: 1, col: 1, path: '', message: `cannot read the config: ${reason}`, fix: 'check the --config path' }]);
  }
  return { config: parseSiteConfig(file, text), file, baseDir: dirname(file), text };
}

export function parseSiteConfig(file: string, text: string): SiteConfig {
  return deepFreeze(parseLocatedYaml(file, text, siteConfigSchema));
}

export function resolveConfigPath(loaded: LoadedConfig, path: string): string {
  return isAbsolute(path) ? path : resolve(loaded.baseDir, path);
}

export { ConfigError };
