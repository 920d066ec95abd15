import { decisionText } from '../policy/decision-text.js';
import { judge } from '../policy/judge.js';
import type { LoadedPolicy } from '../policy/load.js';
import { EXIT, type CliIo } from './io.js';

export interface ExplainOptions {
  readonly json?: boolean | undefined;
  readonly sni?: string | undefined;
  readonly hostHeader?: string | undefined;
}

/** `idp-egress explain METHOD URL`: the decision for exactly this URL, and why. */
export function runExplain(loaded: LoadedPolicy, method: string, url: string, options: ExplainOptions, io: CliIo): number {
  const verdict = judge(loaded.policy, { form: 'absolute', method, url, sni: options.sni, hostHeader: options.hostHeader });
  if (options.json) {
    io.out(`${JSON.stringify({ request: { method, url }, decision: verdict.decision, effect: verdict.effect }, null, 2)}\n`);
  } else {
    io.out(decisionText(method, url, verdict, { closest: true }));
  }
  return verdict.decision.action === 'allow' ? EXIT.OK : EXIT.DENIED;
}
