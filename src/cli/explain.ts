import { decideUrl } from '../policy/absolute-url.js';
import type { Decision } from '../policy/decide.js';
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
    io.out(formatDecision(method, url, decision));
  }
  return decision.action === 'allow' ? EXIT.OK : EXIT.DENIED;
}

export function formatDecision(method: string, url: string, d: Decision): string {
  const lines: string[] = [];
  if (d.action === 'allow') {
    lines.push(`ALLOW  ${d.endpoint ?? `${d.host}:${d.port}`}`);
  } else {
    const observe = d.mode === 'observe' ? '  (observe mode: forwarded and logged as would_deny)' : '';
    lines.push(`DENY  ${d.code}${observe}`);
  }
  const field = (name: string, value: string | undefined) => {
    if (value !== undefined) lines.push(`  ${`${name}:`.padEnd(10)}${value}`);
  };
  field('request', `${method} ${url}`);
  field('provider', d.provider);
  if (d.action === 'allow') {
    field('endpoint', d.endpoint && `${d.endpoint} (${d.kind})`);
    field('template', d.template);
  }
  field('reason', d.reason);
  if (d.closest) field('closest', `${d.closest.endpoint}  ${d.closest.methods.join(',')} ${d.closest.template}`);
  field('mode', d.mode);
  return `${lines.join('\n')}\n`;
}
