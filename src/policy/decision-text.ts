import type { Verdict } from './judge.js';

/**
 * A verdict as people read it: `explain` prints it, and the gateway's 403 bodies carry it (the
 * gateway with the URL redacted, and only when explainDenials is on, since it reveals the policy).
 */
export function decisionText(method: string, url: string, verdict: Verdict, options: { readonly closest: boolean }): string {
  const d = verdict.decision;
  const lines: string[] = [];
  if (d.action === 'allow') {
    lines.push(`ALLOW  ${d.endpoint ?? `${d.host}:${d.port}`}`);
  } else {
    const observe = verdict.effect === 'would_deny' ? '  (observe mode: forwarded and logged as would_deny)' : '';
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
    field('source', d.site && `site endpoint, defined at ${d.site} (not in the vendor's list)`);
  }
  field('reason', d.reason);
  if (d.closest && options.closest) field('closest', `${d.closest.endpoint}  ${d.closest.methods.join(',')} ${d.closest.template}`);
  field('mode', d.mode);
  return `${lines.join('\n')}\n`;
}
