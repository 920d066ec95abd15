export type SplitUrl =
  | { readonly ok: true; readonly scheme: string; readonly host: string; readonly port: number | undefined; readonly target: string }
  | { readonly ok: false; readonly code: 'MALFORMED_REQUEST' | 'USERINFO_NOT_ALLOWED'; readonly reason: string };

const DEFAULT_PORTS: Readonly<Record<string, number>> = { https: 443, http: 80 };

/**
 * Splits an absolute URL (RFC 9112 absolute-form) into scheme, host, port and the request target,
 * keeping the target's bytes exactly: unlike `new URL()`, it resolves no dot segments and decodes
 * nothing, so the policy judges what the server would receive.
 */
export function splitAbsoluteUrl(url: string): SplitUrl {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s.exec(url);
  if (!m) return { ok: false, code: 'MALFORMED_REQUEST', reason: `${JSON.stringify(clip(url))} is not an absolute URL (scheme://host/path)` };
  const scheme = m[1]!.toLowerCase();
  const authority = m[2]!;
  let rest = m[3]!;
  const hash = rest.indexOf('#');
  // A fragment is never sent on the wire; clients drop it before the request.
  if (hash !== -1) rest = rest.slice(0, hash);

  if (authority.includes('@')) {
    return { ok: false, code: 'USERINFO_NOT_ALLOWED', reason: `the URL carries credentials before the host (${authority.slice(0, authority.lastIndexOf('@') + 1).replace(/[^@:]/g, '*')})` };
  }
  if (authority.includes('\\')) {
    return { ok: false, code: 'MALFORMED_REQUEST', reason: `the authority ${JSON.stringify(authority)} has a backslash` };
  }
  const hp = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(authority);
  if (!hp || hp[1] === '') return { ok: false, code: 'MALFORMED_REQUEST', reason: `the authority ${JSON.stringify(authority)} has no valid host` };
  let port: number | undefined = DEFAULT_PORTS[scheme];
  if (hp[2] !== undefined && hp[2] !== '') {
    port = Number(hp[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      return { ok: false, code: 'MALFORMED_REQUEST', reason: `port ${hp[2]} is out of range` };
    }
  }
  const target = rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest;
  return { ok: true, scheme, host: hp[1]!, port, target };
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
