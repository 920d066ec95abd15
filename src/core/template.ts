/**
 * URL templates as the vendor table writes them: `https://graph.microsoft.com/{apiVersion}/users`.
 * `{name}` stands for a whole path segment, or for the whole authority when it is a host
 * variable. There are no wildcards: a template matches exactly its number of segments.
 */

export type TemplateHost =
  | { readonly kind: 'literal'; readonly host: string; readonly port: number }
  | { readonly kind: 'variable'; readonly name: string };

export type TemplateSegment = { readonly kind: 'literal'; readonly value: string } | { readonly kind: 'variable'; readonly name: string };

export interface Template {
  readonly source: string;
  readonly host: TemplateHost;
  readonly segments: readonly TemplateSegment[];
}

const VARIABLE = /^\{([A-Za-z][A-Za-z0-9]*)\}$/;

/** Parses a template; returns a reason string when it is not one. */
export function parseTemplate(source: string): Template | string {
  const m = /^https:\/\/([^/]+)((?:\/[^/]+)+)$/.exec(source);
  if (!m) return 'expected https://host/segment[/segment...] with no query, empty segment or trailing "/"';
  const authority = m[1]!;
  let host: TemplateHost;
  const hostVar = VARIABLE.exec(authority);
  if (hostVar) {
    host = { kind: 'variable', name: hostVar[1]! };
  } else {
    const hm = /^([a-z0-9.-]+)(?::(\d{1,5}))?$/.exec(authority);
    if (!hm) return `host "${authority}" must be a lower-case host name or a {variable}`;
    host = { kind: 'literal', host: hm[1]!, port: hm[2] ? Number(hm[2]) : 443 };
  }
  const segments: TemplateSegment[] = [];
  for (const seg of m[2]!.slice(1).split('/')) {
    const v = VARIABLE.exec(seg);
    if (v) segments.push({ kind: 'variable', name: v[1]! });
    else if (/[{}?#%*\\]/.test(seg) || seg === '.' || seg === '..') return `segment "${seg}" must be a literal or a whole {variable}`;
    else segments.push({ kind: 'literal', value: seg });
  }
  return { source, host, segments };
}

/** Each variable a template uses, in order, and whether it stands for the host or a path segment. */
export function variableUses(t: Template): { readonly name: string; readonly inHost: boolean }[] {
  return [
    ...(t.host.kind === 'variable' ? [{ name: t.host.name, inHost: true }] : []),
    ...t.segments.flatMap((s) => (s.kind === 'variable' ? [{ name: s.name, inHost: false }] : [])),
  ];
}
