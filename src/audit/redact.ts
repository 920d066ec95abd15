/**
 * What a log may say about a URL. Query values that carry credentials are replaced (names
 * compared after percent-decoding, case-blind); userinfo never survives. Path segments are kept:
 * they are IDs, and the policy refuses anything ambiguous in them anyway.
 */
export const SECRET_QUERY_PARAMS: ReadonlySet<string> = new Set([
  'access_token',
  'oauth_token',
  'id_token',
  'refresh_token',
  'token',
  'key',
  'api_key',
  'apikey',
  'code',
  'code_verifier',
  'client_secret',
  'client_assertion',
  'assertion',
  'password',
  'sig',
  'signature',
]);

export const REDACTED = '[REDACTED]';

/** A request target (`/path?query`) with secret query values replaced. */
export function redactTarget(target: string): string {
  const q = target.indexOf('?');
  if (q === -1) return target;
  const pairs = target.slice(q + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    let name: string;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' ')).toLowerCase();
    } catch {
      name = rawName.toLowerCase();
    }
    return SECRET_QUERY_PARAMS.has(name) ? `${rawName}=${REDACTED}` : pair;
  });
  return `${target.slice(0, q)}?${pairs.join('&')}`;
}

/** An absolute URL (or a CONNECT authority) with userinfo and secret query values replaced. */
export function redactUrl(url: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/s.exec(url);
  if (!m) return url.includes('@') ? `${REDACTED}@${url.slice(url.lastIndexOf('@') + 1)}` : url;
  const authority = m[2]!.includes('@') ? `${REDACTED}@${m[2]!.slice(m[2]!.lastIndexOf('@') + 1)}` : m[2]!;
  const rest = m[3]!;
  const hash = rest.indexOf('#');
  const target = hash === -1 ? rest : rest.slice(0, hash);
  return `${m[1]}${authority}${redactTarget(target)}`;
}
