import { configuredHostProblem, isDnsName, ruleHost } from './host.js';

/**
 * The value types a template variable can have. A path variable stands for exactly one decoded
 * path segment; a host variable (`host`, `base-url`) stands for the authority and comes from the
 * site config, or from the pack's `unbound` host patterns when the site leaves it open.
 */
export const VARIABLE_TYPES = ['enum', 'segment', 'guid', 'entra-tenant', 'domain', 'host', 'base-url'] as const;
export type VariableType = (typeof VARIABLE_TYPES)[number];

export const HOST_VARIABLE_TYPES: ReadonlySet<VariableType> = new Set(['host', 'base-url']);

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Entra's multi-tenant aliases: a token request to one of them is not bound to any tenant, so a
 * pinned site must never match them, and an unbound one must not either (client credentials need
 * a tenant GUID or verified domain; Microsoft identity platform docs, client credentials flow).
 */
export const ENTRA_MULTI_TENANT_ALIASES: ReadonlySet<string> = new Set(['common', 'organizations', 'consumers']);

export function isGuid(v: string): boolean {
  return GUID.test(v);
}

/** A tenant is a GUID or a domain name with at least one dot, and never a multi-tenant alias. */
export function isEntraTenant(v: string): boolean {
  const lower = v.toLowerCase();
  if (ENTRA_MULTI_TENANT_ALIASES.has(lower)) return false;
  return isGuid(v) || (lower.includes('.') && isDnsName(lower));
}

export function isDomain(v: string): boolean {
  return v.includes('.') && isDnsName(v.toLowerCase());
}

/** What a value of this type looks like, for denial reasons and config errors. */
export function describeType(type: VariableType, values?: readonly string[]): string {
  switch (type) {
    case 'enum':
      return `one of ${(values ?? []).join(', ')}`;
    case 'segment':
      return 'any single path segment';
    case 'guid':
      return 'a GUID';
    case 'entra-tenant':
      return 'a tenant GUID or verified domain (never common, organizations or consumers)';
    case 'domain':
      return 'a domain name';
    case 'host':
      return 'a host name';
    case 'base-url':
      return 'an https base URL';
  }
}

/** Type check for a path-position value (already percent-decoded and free of "/"). */
export function typeAccepts(type: VariableType, value: string, values?: readonly string[]): boolean {
  switch (type) {
    case 'enum':
      return values !== undefined && values.includes(value);
    case 'segment':
      return value.length > 0;
    case 'guid':
      return isGuid(value);
    case 'entra-tenant':
      return isEntraTenant(value);
    case 'domain':
      return isDomain(value);
    case 'host':
    case 'base-url':
      return false;
  }
}

/** Types whose bound values compare case-insensitively (DNS names and GUIDs are case-blind). */
export function isCaseInsensitive(type: VariableType): boolean {
  return type === 'entra-tenant' || type === 'guid' || type === 'domain' || type === 'host';
}

export interface BaseUrl {
  readonly host: string;
  readonly port: number;
  /** Literal path segments of the context path, e.g. ["auth"] for Keycloak <= 16. */
  readonly prefix: readonly string[];
  /** As the config writes it. */
  readonly text: string;
}

/**
 * Parses a provider base URL such as `https://sso.example.org/auth` or `https://kc:8443`.
 * Returns a reason string when it is not acceptable.
 */
export function parseBaseUrl(raw: string): BaseUrl | string {
  const m = /^https:\/\/([^/:?#@]+)(?::(\d{1,5}))?((?:\/[^/?#]+)*)\/?$/i.exec(raw);
  if (!m) return 'expected https://host[:port][/path], with no query, user or fragment';
  const hostProblem = configuredHostProblem(m[1]!);
  if (hostProblem) return hostProblem;
  const host = ruleHost(m[1]!);
  const port = m[2] === undefined ? 443 : Number(m[2]);
  if (port < 1 || port > 65535) return `port ${m[2]} is out of range`;
  const prefix = (m[3] ?? '').split('/').filter((s) => s.length > 0);
  if (prefix.some((s) => s === '.' || s === '..' || s.includes('%') || s.includes(';'))) {
    return 'the path must be plain segments (no dot segments, percent-encoding or ";")';
  }
  return { host, port, prefix, text: raw };
}
