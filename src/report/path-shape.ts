/**
 * A path with its IDs collapsed, so that denials group by what was asked for, not by whom:
 * /v1.0/users/6e7b768e-07e2-4810-8459-485f84f8f204/drive -> /v1.0/users/{id}/drive.
 */
export function pathShape(path: string): string {
  return path
    .split('/')
    .map((seg) => (seg !== '' && looksLikeId(seg) ? '{id}' : seg))
    .join('/');
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const API_VERSION = /^(?:v\d+(?:\.\d+)?|beta|\d{1,2})$/i;

function looksLikeId(seg: string): boolean {
  let decoded = seg;
  try {
    decoded = decodeURIComponent(seg);
  } catch {
    // keep the raw segment
  }
  if (API_VERSION.test(decoded)) return false;
  if (GUID.test(decoded) || decoded.includes('@')) return true;
  if (/^\d+$/.test(decoded)) return true;
  // Provider IDs (Okta 00u..., Google numeric, opaque tokens): long and mixing letters and digits.
  return decoded.length >= 12 && /\d/.test(decoded) && /[A-Za-z]/.test(decoded);
}
