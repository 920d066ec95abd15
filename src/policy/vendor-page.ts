import type { Pack } from './pack.js';

/**
 * The vendor's "User Sync endpoints" page, read back into rows, and compared with the packs'
 * documented entries (`idp-egress packs diff`). The page is a heading per provider, each over a
 * two-column table, URL and Reason; a documented pack entry is exactly one such row (its URL and
 * reason verbatim), so the comparison is row by row. Markup is not trusted to stay put: the
 * page is reduced to its text lines first, the form a browser's "save as text" gives, so a
 * redesign that moves tags around without changing a row changes nothing here.
 */

export interface VendorRow {
  /** The heading the table sits under, as the page writes it. */
  readonly section: string;
  readonly url: string;
  readonly reason: string;
}

export interface RowChange {
  readonly url: string;
  readonly reason: string;
  /** Changed rows: what the pack holds. */
  readonly packUrl?: string;
  readonly packReason?: string;
  /** The pack entry's id, for rows the pack has. */
  readonly id?: string;
}

export interface SectionDiff {
  readonly section: string;
  /** The pack for this heading; undefined for a heading no pack follows (a new provider). */
  readonly provider: string | undefined;
  readonly added: readonly RowChange[];
  readonly removed: readonly RowChange[];
  readonly changed: readonly RowChange[];
}

export interface PacksDiff {
  readonly rows: number;
  readonly sections: readonly SectionDiff[];
  readonly identical: boolean;
}

/** The page's text lines: tags dropped, block ends as line breaks, entities decoded. */
export function pageLines(page: string): string[] {
  const text = /<(html|body|table|div|p|h[1-6])[\s>]/i.test(page) ? htmlText(page) : page;
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/[\s\u00a0]+/g, ' ').trim())
    .filter((l) => l.length > 0);
}

const BLOCK_END = /<\/?(?:p|div|h[1-6]|li|ul|ol|tr|td|th|table|thead|tbody|section|article|header|footer|pre|blockquote|dt|dd)\b[^>]*>|<br\s*\/?>/gi;

function htmlText(html: string): string {
  return decodeEntities(
    dropNonText(html)
      // Inside a block, white space is one space (HTML's own rule); only block ends break lines.
      .replace(/\s+/g, ' ')
      .replace(BLOCK_END, '\n')
      .replace(/<[^>]*>/g, ''),
  );
}

const NON_TEXT_START = /<!--|<(script|style|noscript|template)\b/gi;

/**
 * The page without comments and without elements whose content is not text (scripts, styles), in
 * one pass: a lazy regular expression per element went quadratic on a page with many unclosed
 * ones (80,000 took seconds). An element left open drops the rest of the page, as a browser would.
 */
function dropNonText(html: string): string {
  const lower = html.toLowerCase();
  let out = '';
  let from = 0;
  for (;;) {
    NON_TEXT_START.lastIndex = from;
    const m = NON_TEXT_START.exec(html);
    if (!m) return out + html.slice(from);
    out += html.slice(from, m.index);
    const close = m[1] === undefined ? '-->' : `</${m[1].toLowerCase()}`;
    const end = lower.indexOf(close, m.index + m[0].length);
    if (end === -1) return out;
    from = m[1] === undefined ? end + close.length : lower.indexOf('>', end) + 1 || html.length;
  }
}

const NAMED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', lbrace: '{', rbrace: '}', sol: '/', colon: ':', ndash: '–', mdash: '—', rsquo: '’', lsquo: '‘', rdquo: '”', ldquo: '“' };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED[name.toLowerCase()] ?? whole;
  });
}

/**
 * The rows of every endpoint table. A table is found by its column heads, a "URL" line then a
 * "Reason" line, and belongs to the heading just before them; each row is an https:// URL and the
 * next line that is not one. Lines between tables (notes such as "Used options for apiVersion
 * are ...") belong to no row.
 */
export function vendorRows(page: string): VendorRow[] {
  const lines = pageLines(page);
  const rows: VendorRow[] = [];
  let section: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === 'URL' && lines[i + 1] === 'Reason' && i > 0) {
      section = lines[i - 1]!;
      i++;
    } else if (section !== undefined && /^https:\/\/\S+$/.test(line)) {
      const next = lines[i + 1];
      const reason = next !== undefined && !/^https:\/\//.test(next) && next !== 'URL' ? next : '';
      if (reason) i++;
      rows.push({ section, url: line, reason });
    }
  }
  return rows;
}

/**
 * The page's rows against the packs' documented entries, per section: rows the page has and no
 * pack does (added), entries the page no longer has (removed), and rows whose URL or reason moved
 * while the other stayed (changed). Order is not compared: it carries no policy.
 */
export function diffPacks(packs: readonly Pack[], rows: readonly VendorRow[]): PacksDiff {
  const sections = [...new Set([...packs.map((p) => p.section), ...rows.map((r) => r.section)])];
  const out: SectionDiff[] = [];
  for (const section of sections) {
    const pack = packs.find((p) => p.section === section);
    const documented = (pack?.endpoints ?? []).filter((e) => e.documented).map((e) => ({ id: e.id, url: e.urls[0]!, reason: e.reason }));
    const pageRows = rows.filter((r) => r.section === section);
    let added = pageRows.filter((r) => !documented.some((d) => d.url === r.url && d.reason === r.reason));
    let removed = documented.filter((d) => !pageRows.some((r) => r.url === d.url && r.reason === d.reason));
    const changed: RowChange[] = [];
    // Pair what is left: same URL, new reason; then same reason, new URL.
    for (const key of ['url', 'reason'] as const) {
      for (const a of [...added]) {
        const r = removed.find((d) => d[key] === a[key]);
        if (!r) continue;
        changed.push({ url: a.url, reason: a.reason, packUrl: r.url, packReason: r.reason, id: r.id });
        added = added.filter((x) => x !== a);
        removed = removed.filter((x) => x !== r);
      }
    }
    out.push({
      section,
      provider: pack?.provider,
      added: added.map((a) => ({ url: a.url, reason: a.reason })),
      removed: removed.map((r) => ({ url: r.url, reason: r.reason, id: r.id })),
      changed,
    });
  }
  return { rows: rows.length, sections: out, identical: out.every((s) => s.added.length + s.removed.length + s.changed.length === 0) };
}
