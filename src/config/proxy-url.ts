/**
 * The Proxy-Authorization a proxy URL's user:password@ stands for (Basic, RFC 9110 section
 * 11.7.2 and RFC 7617), for upstream.proxy and `probe --via` alike. The URL keeps its
 * percent-escapes, so a bare % in a password cannot be decoded: that is a problem with a fix,
 * not a URIError at the first CONNECT.
 */
export type ProxyAuthorization = { readonly ok: true; readonly header: string | undefined } | { readonly ok: false; readonly problem: string };

export const MALFORMED_USERINFO = 'the user or password has a malformed %-escape: write a literal % as %25';

export function proxyAuthorizationOf(url: URL): ProxyAuthorization {
  if (!url.username) return { ok: true, header: undefined };
  try {
    return { ok: true, header: `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}` };
  } catch {
    return { ok: false, problem: MALFORMED_USERINFO };
  }
}
