import { routeOf } from '../policy/compile.js';
import type { PathNode, Policy } from '../policy/model.js';

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

/**
 * A path shaped by the policy's own templates: as far as an endpoint's template matches it, each
 * variable segment becomes that variable's name (`/v1.0/users/u1/drive` under Graph's
 * `/{apiVersion}/users/{userid}` becomes `/v1.0/users/{userid}/drive`; an enum keeps its value),
 * and what no template reaches is shaped by pathShape's rules. The first policy with a route for the host decides.
 */
export function templateShape(policies: readonly Policy[], host: string, path: string): string {
  const route = policies.map((p) => routeOf(p, host.toLowerCase())).find((r) => r !== undefined);
  if (!route) return pathShape(path);
  const segments = path.split('/').slice(1);
  const out: string[] = [];
  let node: PathNode | undefined = route.root;
  let i = 0;
  for (; i < segments.length && node; i++) {
    const seg = segments[i]!;
    let decoded = seg;
    try {
      decoded = decodeURIComponent(seg);
    } catch {
      // an undecodable segment matches no variable
    }
    const literal = node.literalKeys.indexOf(decoded);
    if (literal !== -1) {
      out.push(seg);
      node = node.literalNodes[literal];
      continue;
    }
    const param = node.params.find((p) => seg !== '' && p.variable.test(decoded));
    if (!param) break;
    // An enum's value says which API was called (v1.0 or beta): it stays.
    out.push(param.variable.type === 'enum' ? seg : `{${param.variable.name}}`);
    node = param.node;
  }
  const rest = segments.slice(i).join('/');
  return `/${[...out, ...(i < segments.length ? [pathShape(`/${rest}`).slice(1)] : [])].join('/')}`;
}

/**
 * The host and path of a URL as the audit writes it (already redacted), without parsing it as a
 * URL: the path as sent, dot segments and all, so a report shows what was refused. A CONNECT's
 * target is an authority: its host (with its port unless 443), no path.
 */
export function splitTarget(url: string, isConnect: boolean): { host: string; path: string } {
  if (isConnect) return { host: url.replace(/:443$/, ''), path: '' };
  const m = /^[a-z]+:\/\/([^/?#]*)([^?#]*)/i.exec(url);
  return m ? { host: m[1]!.replace(/^.*@/, ''), path: m[2]! || '/' } : { host: '', path: url };
}
