import { decideUrl } from '../policy/absolute-url.js';
import { decisionText } from '../policy/decision-text.js';
import type { LoadedPolicy } from '../policy/load.js';
import { EXIT, type CliIo } from './io.js';

export interface ExplainOptions {
  readonly json?: boolean | undefined;
  readonly sni?: string | undefined;
  readonly hostHeader?: string | undefined;
}

/** `idp-egress explain METHOD URL`: the decision for exactly this URL, and why. */
export function runExplain(loaded: LoadedPolicy, method: string, url: string, options: ExplainOptions, io: CliIo): number {
  const decision = decideUrl(loaded.policy, method, url, { sni: options.sni, hostHeader: options.hostHeader });
  if (options.json) {
    io.out(`${JSON.stringify({ request: { method, url }, decision }, null, 2)}\n`);
  } else {
    io.out(decisionText(method, url, decision, { closest: true }));
  }
  return decision.action === 'allow' ? EXIT.OK : EXIT.DENIED;
}
