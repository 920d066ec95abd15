import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../core/errors.js';
import { loadPacks } from '../policy/pack.js';
import { diffPacks, vendorRows, type PacksDiff, type RowChange } from '../policy/vendor-page.js';
import { EXIT, type CliIo } from './io.js';

/**
 * `idp-egress packs diff PAGE`: a saved copy of the vendor's User Sync endpoints page against the
 * shipped packs. Exit status as diff(1): 0 identical, 1 different, 2 when it cannot compare.
 */
export function runPacksDiff(page: string, options: { readonly json?: boolean | undefined; readonly packs?: string | undefined }, io: CliIo): number {
  let text: string;
  try {
    text = readFileSync(resolve(io.cwd, page), 'utf8');
  } catch (err) {
    io.err(`idp-egress: cannot read ${page}: ${(err as Error).message}\n`);
    return EXIT.CANNOT_COMPARE;
  }
  const rows = vendorRows(text);
  if (rows.length === 0) {
    io.err(`idp-egress: ${page} has no endpoint table (a "URL" and "Reason" heading over https:// rows): save the User Sync endpoints page itself, as HTML or as text\n`);
    return EXIT.CANNOT_COMPARE;
  }
  let diff: PacksDiff;
  try {
    diff = diffPacks(loadPacks(options.packs === undefined ? undefined : resolve(io.cwd, options.packs)), rows);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.err(`idp-egress: the packs are invalid:\n${err.message.replace(/^/gm, '  ')}\n`);
    return EXIT.CANNOT_COMPARE;
  }
  io.out(options.json ? `${JSON.stringify(diff, null, 2)}\n` : diffText(diff));
  return diff.identical ? EXIT.OK : EXIT.DIFFERENT;
}

function diffText(diff: PacksDiff): string {
  const lines: string[] = [];
  for (const s of diff.sections) {
    const count = s.added.length + s.removed.length + s.changed.length;
    const who = s.provider === undefined ? `${s.section} (no pack follows this heading: a new provider?)` : `${s.section} (${s.provider}.yaml)`;
    lines.push(count === 0 ? `${who}: identical` : `${who}: ${s.added.length} added, ${s.removed.length} removed, ${s.changed.length} changed`);
    for (const a of s.added) lines.push(`  + ${row(a)}`);
    for (const r of s.removed) lines.push(`  - ${r.id}: ${row(r)}`);
    for (const c of s.changed) {
      lines.push(`  ~ ${c.id}: ${row(c)}`);
      if (c.packUrl !== c.url) lines.push(`      the pack has URL ${c.packUrl}`);
      if (c.packReason !== c.reason) lines.push(`      the pack has reason "${c.packReason}"`);
    }
  }
  lines.push(diff.identical ? `\nthe page's ${diff.rows} rows are the packs' documented entries` : '\nthe page and the packs differ: docs/policy.md, "Following the vendor page", says how to update a pack');
  return `${lines.join('\n')}\n`;
}

function row(r: RowChange): string {
  return `${r.url}  "${r.reason}"`;
}
