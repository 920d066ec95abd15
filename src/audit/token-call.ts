import { createHmac, randomBytes } from 'node:crypto';
import { brotliDecompressSync, constants as zlib, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';

/**
 * What the audit keeps of a token call: what a reviewer needs to see which app asked for what and
 * why it failed, and nothing that grants access. Fields are picked by name from the parsed
 * bodies; no other field can reach a log. (Entra: client credentials flow docs; Google, Keycloak,
 * Okta, OneLogin: their token endpoint docs; docs/audit.md lists the fields kept.)
 */
export interface TokenCallAudit {
  /** The tenant (Entra) or realm (Keycloak) the token was asked for, from the matched path. */
  readonly tenant?: string;
  readonly grantType?: string;
  readonly clientId?: string;
  readonly scope?: string;
  readonly expiresIn?: number;
  readonly tokenType?: string;
  /** OAuth error code (invalid_client, ...). */
  readonly error?: string;
  /** Entra's AADSTS numbers (error_codes), the first thing support asks for. */
  readonly errorCodes?: readonly number[];
  readonly traceId?: string;
  readonly correlationId?: string;
  /** Keyed fingerprint of the issued access token: the same value tags API calls that present it. */
  readonly tokenFp?: string;
}

const SAFE_TEXT = /^[\x20-\x7e]{1,200}$/;

function safe(v: unknown): string | undefined {
  return typeof v === 'string' && SAFE_TEXT.test(v) ? v : undefined;
}

/** Keyed, truncated HMAC of a token: ties calls to a token without being the token. */
export class TokenFingerprinter {
  /**
   * The last token fingerprinted and its fingerprint: a client presents the same access token on
   * every call until it expires (an hour for Entra), so each call would otherwise pay an HMAC over
   * a JWT of a kilobyte or two. One token is kept, in memory only, until a different one comes
   * (so it outlives its request). A plain comparison, not a constant-time one (which would cost
   * half the HMAC it saves): a guess is compared with another client's token only when that
   * client's call came last, once per such call, and the timing differs by nanoseconds.
   */
  private last: { readonly token: string; readonly fp: string } | undefined;

  constructor(private readonly key: Buffer = randomBytes(32)) {}

  of(token: string): string {
    if (this.last?.token === token) return this.last.fp;
    const fp = createHmac('sha256', this.key).update(token).digest('hex').slice(0, 16);
    this.last = { token, fp };
    return fp;
  }

  /** The fingerprint of the bearer token an API call presents, if it presents one. */
  ofAuthorization(header: string | undefined): string | undefined {
    // "Bearer t", DPoP-bound "DPoP t", and OneLogin's legacy "bearer:t".
    const m = /^(?:bearer|dpop)(?:\s+|:)([^\s,]+)\s*$/i.exec(header ?? '');
    return m ? this.of(m[1]!) : undefined;
  }
}

function parseBody(contentType: string | undefined, body: Buffer): Record<string, unknown> | undefined {
  const text = body.toString('utf8');
  try {
    if (/json/i.test(contentType ?? '') || text.trimStart().startsWith('{')) {
      const parsed: unknown = JSON.parse(text);
      // OneLogin wraps tokens in data[0].
      const data = (parsed as { data?: unknown[] } | null)?.data;
      const inner = Array.isArray(data) && data[0] && typeof data[0] === 'object' ? data[0] : parsed;
      return inner && typeof inner === 'object' ? { ...(parsed as object), ...(inner as object) } : undefined;
    }
    return Object.fromEntries(new URLSearchParams(text));
  } catch {
    return undefined;
  }
}

const TENANT_VARIABLES: ReadonlySet<string> = new Set(['{directoryTenantId}', '{realm}']);

/**
 * The tenant a token call names: the path segment at the template's {directoryTenantId} or
 * {realm}. Templates and targets are aligned from the end, since a base URL may add a prefix.
 */
export function tenantOfTokenCall(template: string | undefined, target: string): string | undefined {
  if (!template) return undefined;
  const templateSegs = template.replace(/^https:\/\/[^/]+/, '').split('/');
  const targetSegs = target.split('?')[0]!.split('/');
  const fromEnd = templateSegs.length - 1 - templateSegs.findIndex((s) => TENANT_VARIABLES.has(s));
  if (fromEnd >= templateSegs.length) return undefined;
  const seg = targetSegs[targetSegs.length - 1 - fromEnd];
  if (seg === undefined) return undefined;
  try {
    return safe(decodeURIComponent(seg));
  } catch {
    return undefined;
  }
}

/** Fields of a token request body (form or JSON); the secrets in it are never read out. */
export function tokenRequestAudit(contentType: string | undefined, body: Buffer): TokenCallAudit {
  const f = parseBody(contentType, body);
  if (!f) return {};
  return {
    ...(safe(f['grant_type']) ? { grantType: safe(f['grant_type'])! } : {}),
    ...(safe(f['client_id']) ? { clientId: safe(f['client_id'])! } : {}),
    ...(safe(f['scope']) ? { scope: safe(f['scope'])! } : {}),
  };
}

/** A token response is a few hundred bytes; a decoded body past this is not one, and is not read. */
const MAX_DECODED_BYTES = 64 * 1024;

/**
 * The response body as the provider meant it. Clients may ask for compression (Apache
 * HttpClient 4.4+ sends Accept-Encoding: gzip,deflate by default), and the audit reads only a
 * prefix, so a truncated stream decodes as far as it goes (a sync flush, not an error).
 * "deflate" is zlib-wrapped per RFC 9110 section 8.4.1.2, raw from some servers.
 */
function decodedBody(body: Buffer, contentEncoding: string | undefined): Buffer | undefined {
  const coding = contentEncoding?.trim().toLowerCase() ?? 'identity';
  const options = { finishFlush: zlib.Z_SYNC_FLUSH, maxOutputLength: MAX_DECODED_BYTES };
  try {
    switch (coding) {
      case 'identity':
      case '':
        return body;
      case 'gzip':
      case 'x-gzip':
        return gunzipSync(body, options);
      case 'deflate':
        return isZlibHeader(body) ? inflateSync(body, options) : inflateRawSync(body, options);
      case 'br':
        return brotliDecompressSync(body, { finishFlush: zlib.BROTLI_OPERATION_FLUSH, maxOutputLength: MAX_DECODED_BYTES });
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

/** RFC 1950 section 2.2: compression method 8 in the low nibble, and the two bytes a multiple of 31. */
function isZlibHeader(body: Buffer): boolean {
  return body.length >= 2 && (body[0]! & 0x0f) === 8 && ((body[0]! << 8) | body[1]!) % 31 === 0;
}

/** Fields of a token response body; access, refresh and id tokens are only fingerprinted. */
export function tokenResponseAudit(contentType: string | undefined, raw: Buffer, fingerprints: TokenFingerprinter, contentEncoding?: string): TokenCallAudit {
  const body = decodedBody(raw, contentEncoding);
  if (!body) return {};
  const f = parseBody(contentType, body);
  if (!f) return {};
  const expires = Number(f['expires_in']);
  const codes = Array.isArray(f['error_codes']) ? (f['error_codes'] as unknown[]).filter((c): c is number => Number.isInteger(c)).slice(0, 10) : [];
  const token = typeof f['access_token'] === 'string' ? f['access_token'] : undefined;
  return {
    ...(Number.isFinite(expires) ? { expiresIn: expires } : {}),
    ...(safe(f['token_type']) ? { tokenType: safe(f['token_type'])! } : {}),
    ...(safe(f['error']) ? { error: safe(f['error'])! } : {}),
    ...(codes.length > 0 ? { errorCodes: codes } : {}),
    ...(safe(f['trace_id']) ? { traceId: safe(f['trace_id'])! } : {}),
    ...(safe(f['correlation_id']) ? { correlationId: safe(f['correlation_id'])! } : {}),
    ...(token ? { tokenFp: fingerprints.of(token) } : {}),
  };
}
