/**
 * What a log may say about a URL, by construction: every query value is replaced unless the
 * provider's pack names its parameter as safe to log (`logQuery`: paging, field selection, the
 * tenant-binding `customer` and `domain`). A list of secret names would always be one name short
 * (`id_token_hint`, `subject_token`, `SAMLResponse`, a vendor's own); a list of safe ones cannot
 * leak what it does not name. Userinfo never survives; the fragment is never sent, so never
 * shown. Path segments are kept: they are IDs, and the policy refuses anything ambiguous in them.
 * Their parameters are not (`;jsessionid=...`, RFC 3986 section 3.3, or after an encoded `%3B`): a
 * Java servlet container rewrites its session into one, and the policy refuses the request but the
 * log still shows it.
 */

export const REDACTED = '[REDACTED]';

/**
 * Names no pack may mark as safe to log: bearer material and credentials in the OAuth 2.0, OIDC,
 * token-exchange, device-flow and SAML specifications and the five vendors' documentation
 * (RFC 6749 sections 4.1 and 6, RFC 6750 section 2.3, RFC 7521 and 7523 assertions, RFC 7636 verifiers,
 * RFC 8693 token exchange, and the vendors' own names). Compared lower-cased.
 */
export const SECRET_QUERY_PARAMS: ReadonlySet<string> = new Set([
  'access_token', 'oauth_token', 'id_token', 'id_token_hint', 'refresh_token', 'token', 'code', 'code_verifier', 'code_challenge',
  'client_secret', 'client_assertion', 'assertion', 'password', 'username', 'device_code', 'user_code', 'subject_token', 'actor_token',
  'request', 'request_uri', 'login_hint_token', 'auth_req_id', 'logout_token', 'samlrequest', 'samlresponse', 'samlart', 'signature',
  'relaystate', 'key', 'api_key', 'apikey', 'sig', 'secret', 'jwt', 'private_key', 'auth', 'state', 'nonce',
  // The session a servlet container rewrites into a path parameter (Jakarta Servlet, section 7.1.3).
  'jsessionid',
]);

const NO_NAMES: ReadonlySet<string> = new Set();
const NOTHING_REMOVED: readonly string[] = Object.freeze([]);

/**
 * Names shown as sent even though their values are not: the credential names above, and the
 * cursors and filters whose values are not the log's to keep. Any other name is replaced too, so
 * a value sent in a name's place (`?<token>=1`) cannot reach a log; a reader still sees how many
 * parameters there were and which known ones.
 */
const KNOWN_NAMES: ReadonlySet<string> = new Set([
  ...SECRET_QUERY_PARAMS,
  '$skiptoken', '$deltatoken', '$filter', '$search', 'pagetoken', 'synctoken', 'after', 'before', 'cursor', 'after_cursor', 'before_cursor',
  'q', 'search', 'query', 'filter', 'userkey', 'email', 'firstname', 'lastname', 'login_hint', 'redirect_uri', 'response_mode', 'client_id',
]);

/** What redaction replaced, so a text that echoes the request can be cleaned of the same values. */
export interface Redacted {
  readonly text: string;
  /** The raw strings replaced (query values, odd names, userinfo), for redactEchoes. */
  readonly removed: readonly string[];
}

function decodeName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' ')).toLowerCase();
  } catch {
    return raw.toLowerCase();
  }
}

/** One `name=value` item (a query's pair, a path parameter) as a log may show it, unless `keep` names it. */
function redactItem(item: string, keep: ReadonlySet<string>, removed: string[]): string {
  if (item === '') return item;
  const eq = item.indexOf('=');
  const rawName = eq === -1 ? item : item.slice(0, eq);
  const name = decodeName(rawName);
  if (keep.has(name)) return item;
  // A bare item (`?abc`, `;abc`) may be a value sent without a name.
  const nameShown = eq !== -1 && KNOWN_NAMES.has(name);
  if (!nameShown) removed.push(rawName);
  if (eq !== -1 && eq + 1 < item.length) removed.push(item.slice(eq + 1));
  return eq === -1 ? REDACTED : `${nameShown ? rawName : REDACTED}=${eq + 1 < item.length ? REDACTED : ''}`;
}

/** A query string with every value replaced that `keep` (lower-cased names) does not name. */
function redactQuery(query: string, keep: ReadonlySet<string>, removed: string[]): string {
  const pairs = query.split('&');
  for (let i = 0; i < pairs.length; i++) pairs[i] = redactItem(pairs[i]!, keep, removed);
  return pairs.join('&');
}

/** Where a path parameter starts: ";", or "%3B", which a server that decodes before it splits reads as one. */
const PARAMETER_START = /(;|%3[Bb])/;

function hasPathParameter(text: string): boolean {
  return text.includes(';') || text.includes('%3B') || text.includes('%3b');
}

/** A path with each segment's parameters replaced, whichever way their ";" was written; no pack names any as safe. */
function redactPathParameters(path: string, removed: string[]): string {
  if (!hasPathParameter(path)) return path;
  return path
    .split('/')
    .map((segment) => {
      // [head, delimiter, parameter, delimiter, parameter, ...]
      const parts = segment.split(PARAMETER_START);
      for (let i = 2; i < parts.length; i += 2) parts[i] = redactItem(parts[i]!, NO_NAMES, removed);
      return parts.join('');
    })
    .join('/');
}

/**
 * Any request target or URL as a log may show it: absolute-form (`https://host/path?q`), origin-form
 * (`/path?q`), a CONNECT authority (`host:443`), or whatever a malformed request sent. `keep`:
 * the lower-cased query names the provider's pack marks as safe to log; none by default.
 */
export function redact(url: string, keep: ReadonlySet<string> = NO_NAMES): Redacted {
  // No userinfo, path parameter, query or fragment, as most object calls (a user, its manager): nothing to take out.
  if (!url.includes('?') && !url.includes('@') && !url.includes('#') && !hasPathParameter(url)) return { text: url, removed: NOTHING_REMOVED };
  const removed: string[] = [];
  let rest = url;
  let prefix = '';
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(rest);
  if (scheme) {
    prefix = scheme[0];
    rest = rest.slice(prefix.length);
  }
  // The authority ends at the first "/", "?" or "#"; in origin-form there is none.
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd);
  const at = authority.lastIndexOf('@');
  if (at !== -1) {
    removed.push(authority.slice(0, at));
    prefix += `${REDACTED}@${authority.slice(at + 1)}`;
  } else {
    prefix += authority;
  }
  rest = authorityEnd === -1 ? '' : rest.slice(authorityEnd);
  const hash = rest.indexOf('#');
  if (hash !== -1) {
    removed.push(rest.slice(hash + 1));
    rest = rest.slice(0, hash);
  }
  const q = rest.indexOf('?');
  const path = redactPathParameters(q === -1 ? rest : rest.slice(0, q), removed);
  const text = q === -1 ? `${prefix}${path}` : `${prefix}${path}?${redactQuery(rest.slice(q + 1), keep, removed)}`;
  return { text, removed };
}

export function redactUrl(url: string, keep?: ReadonlySet<string>): string {
  return redact(url, keep).text;
}

/** Values shorter than this are not searched for in other texts: they could not be secrets. */
const MIN_ECHO = 4;

/**
 * A text about the request (a denial's reason, a parser's complaint) with every value that
 * redaction removed from its URL replaced too, as sent and as JSON would quote it: reasons
 * quote parts of the request to say what was wrong with them.
 */
export function redactEchoes(text: string, removed: readonly string[]): string {
  let out = text;
  for (const value of removed) {
    if (value.length < MIN_ECHO) continue;
    for (const form of new Set([value, JSON.stringify(value).slice(1, -1), safeDecode(value)])) {
      if (form.length >= MIN_ECHO && out.includes(form)) out = out.split(form).join(REDACTED);
    }
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
