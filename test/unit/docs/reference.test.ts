// The reference pages stay true to the code: docs/commands.md to the command line, the audit
// event table in docs/audit.md to the fields an event can carry.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { auditEvent } from '../../../src/audit/audit-log.js';
import type { TokenCallAudit } from '../../../src/audit/token-call.js';
import { runCli } from '../../../src/cli/program.js';
import { CODES } from '../../../src/core/errors.js';
import type { Outcome } from '../../../src/audit/outcome.js';

const doc = (name: string) => readFileSync(new URL(`../../../docs/${name}`, import.meta.url), 'utf8');

async function help(args: string[]): Promise<string> {
  let out = '';
  await runCli([...args, '--help'], { out: (t) => (out += t), err: (t) => (out += t), cwd: process.cwd() });
  return out;
}

/** Command names from a --help listing, without commander's own `help`. */
const commandsIn = (text: string) => [...text.split('\nCommands:\n')[1]!.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
/** Long options from a --help listing, without --help. */
const optionsIn = (text: string) => [...text.split('\nOptions:\n')[1]!.split('\n\n')[0]!.matchAll(/^ {2}(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1]!).filter((o) => o !== '--help');

describe('docs/commands.md', () => {
  const page = doc('commands.md');
  const sections = new Map(page.split('\n## ').slice(1).map((s) => [s.split('\n')[0]!, s]));

  it('has a section for every command and subcommand, and none for a command that is gone', async () => {
    const top = commandsIn(await help([]));
    const all = (await Promise.all(top.map(async (c) => {
      const sub = await help([c]);
      return sub.includes('\nCommands:\n') ? commandsIn(sub).map((s) => `${c} ${s}`) : [c];
    }))).flat();
    expect([...sections.keys()].sort()).toEqual(all.map((c) => `idp-egress ${c}`).sort());
  });

  it('lists exactly the options of each command', async () => {
    for (const [title, text] of sections) {
      const documented = [...text.matchAll(/^\| `(--[a-z-]+)` \|/gm)].map((m) => m[1]!);
      const real = optionsIn(await help(title.split(' ').slice(1)));
      expect(documented, title).toEqual(real);
    }
  });
});

describe('docs/audit.md event fields', () => {
  const page = doc('audit.md');
  const table = page.split('## Audit events')[1]!.split('### ')[0]!;
  const documented = new Set([...table.matchAll(/^\| (`[^|]+`) \|/gm)].flatMap((m) => [...m[1]!.matchAll(/`([a-zA-Z]+)`/g)].map((x) => x[1]!)));

  // Every optional part present, so every field an event can carry appears. Required<> makes the
  // type checker fail here when a token field is added, before the docs can fall behind.
  const token: Required<TokenCallAudit> = { tenant: 't', grantType: 'g', clientId: 'c', scope: 's', expiresIn: 1, tokenType: 'Bearer', error: 'e', errorCodes: [1], traceId: 'x', correlationId: 'y', tokenFp: 'f' };
  const outcome: Required<Outcome> = {
    id: 'i', kind: 'request', client: '127.0.0.1', method: 'POST', url: 'https://h/p', code: 'ALLOWED', decision: undefined, enforced: false, status: 200, tls: 'intercept', reason: 'r', durationMs: 1, time: 0,
    bytesIn: 1, bytesOut: 1, upstream: '1.2.3.4:443', responseHeaders: { 'request-id': 'q' }, token, presentedTokenFp: 'f', requestHeaderNames: ['accept'],
  };

  it('documents every field of an event, and no field an event cannot have', () => {
    expect([...documented].sort()).toEqual(Object.keys(auditEvent(outcome)).sort());
  });

  it('documents every field of a token call', () => {
    const section = page.split('### Token calls')[1]!.split('### ')[0]!;
    for (const field of Object.keys(token)) expect(section, field).toContain(`\`${field}\``);
  });

  it('names every event kind', () => {
    const kinds: Outcome['kind'][] = ['request', 'connect', 'tunnel'];
    for (const k of kinds) expect(table).toContain(`\`${k}\``);
  });
});

describe('docs/troubleshooting.md', () => {
  const page = doc('troubleshooting.md');
  const rows = new Map([...page.matchAll(/^\| (\d{3}|\(audit only\)) `([A-Z_]+)` \|/gm)].map((m) => [m[2]!, m[1]!]));

  it('has a row for every code the gateway answers with, with its status, and none for a code that is gone', () => {
    const answered = Object.entries(CODES).filter(([code, e]) => ['decision', 'gateway', 'upstream'].includes(e.category) && code !== 'ALLOWED');
    expect([...rows.keys()].sort()).toEqual(answered.map(([code]) => code).sort());
    for (const [code, entry] of answered) expect(rows.get(code), code).toBe((entry as { status?: number }).status?.toString() ?? '(audit only)');
  });
});
