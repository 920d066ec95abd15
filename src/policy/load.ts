import { hash } from 'node:crypto';
import { loadSiteConfig, type LoadedConfig } from '../config/load.js';
import { compilePolicy } from './compile.js';
import type { Policy } from './model.js';
import { loadPacks, type Pack } from './pack.js';

export interface LoadedPolicy {
  readonly policy: Policy;
  readonly config: LoadedConfig;
  readonly packs: readonly Pack[];
}

export interface LoadPolicyOptions {
  /** --config FILE; otherwise idp-egress.yaml in `cwd`, otherwise the embedded default. */
  readonly configFile?: string | undefined;
  readonly cwd?: string | undefined;
  readonly packsDir?: string | undefined;
}

/** Loads the site config and the packs and compiles them; throws ConfigError with every problem. */
export function loadPolicy(options: LoadPolicyOptions = {}): LoadedPolicy {
  const config = loadSiteConfig(options.configFile, options.cwd);
  const packs = loadPacks(options.packsDir);
  const origin = config.file !== undefined && config.text !== undefined ? { file: config.file, text: config.text } : undefined;
  return { policy: compilePolicy(packs, config.config, origin), config, packs };
}

/** sha256 of the effective config and packs, 16 hex digits: equal digests, equal policy (rules files and /metrics carry it). */
export function configDigest(loaded: LoadedPolicy): string {
  return hash('sha256', JSON.stringify({ config: loaded.config.config, packs: loaded.packs }), 'hex').slice(0, 16);
}
