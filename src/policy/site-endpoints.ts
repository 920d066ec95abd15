import { basename } from 'node:path';
import type { SiteConfig, SiteEndpointConfig } from '../config/schema.js';
import { writeMethods, type EndpointKind } from '../core/endpoint-methods.js';
import { ConfigError, type ConfigProblem } from '../core/errors.js';
import { dotted, locatorFor } from '../core/located-yaml.js';
import { parseTemplate, variableUses, type Template } from '../core/template.js';
import { HOST_VARIABLE_TYPES } from '../core/variables.js';
import type { Pack, PackVariable } from './pack.js';

/**
 * Site endpoints (docs/policy.md, "Site endpoints"): what a site's config adds beyond the vendor's
 * list, turned into the same entries a pack holds, so that one compiler builds both and a site
 * endpoint can be no looser than a pack endpoint. Each keeps where it was written (file:line),
 * which explain, endpoints, the audit, the report and every rules format show beside it.
 */

/** An endpoint as the compiler reads it: a pack's, or the site's with its origin. */
export interface SourceEndpoint {
  readonly id: string;
  readonly kind: EndpointKind;
  readonly methods: readonly string[];
  readonly urls: readonly string[];
  readonly reason: string;
  readonly documented?: true | undefined;
  readonly variant?: string | undefined;
  readonly query?: { readonly oneOf: readonly string[] } | undefined;
  /** Site endpoints: `file:line` of the entry in the config. */
  readonly site?: string | undefined;
}

/** A provider as the compiler reads it: a pack with the site's endpoints, or a site-defined provider. */
export interface PolicySource {
  readonly provider: string;
  readonly title: string;
  readonly clouds?: Pack['clouds'];
  readonly variables: Readonly<Record<string, PackVariable>>;
  readonly endpoints: readonly SourceEndpoint[];
  readonly logQuery: readonly string[];
  /** Defined by the site (siteProviders), not by a shipped pack. */
  readonly siteDefined: boolean;
}

/** Where the site config came from, to say where each site endpoint was written. */
export interface ConfigOrigin {
  readonly file: string;
  readonly text: string;
}

type Located = { line: number; col: number };
type PathKey = string | number;

/**
 * The packs with the site's endpoints appended, then the site-defined providers. Problems that
 * need the packs to see (a variable the pack does not declare, an id a pack already uses) are
 * thrown together, each at file:line:col; duplicates and shadows of pack endpoints, and every
 * acknowledged write, come back as warnings.
 */
export function withSiteEndpoints(packs: readonly Pack[], config: SiteConfig, origin?: ConfigOrigin): { sources: PolicySource[]; warnings: string[] } {
  const file = origin?.file ?? 'the config';
  // The config's text is parsed again for positions only when it has site endpoints to place.
  let locator: ((path: readonly PathKey[]) => Located) | undefined;
  const locate = (path: readonly PathKey[]): Located => (locator ??= origin ? locatorFor(origin.text) : () => ({ line: 1, col: 1 }))(path);
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const ids = new Map<string, string>();
  for (const p of packs) for (const e of p.endpoints) ids.set(e.id, `the ${p.provider} pack`);

  const addSite = (configPath: readonly PathKey[], providerTitle: string, variables: Readonly<Record<string, PackVariable>>, siteEndpoints: readonly SiteEndpointConfig[], packEndpoints: readonly SourceEndpoint[]) => {
    const ownVariables: Record<string, PackVariable> = {};
    const out: SourceEndpoint[] = [];
    siteEndpoints.forEach((e, i) => {
      const at = [...configPath, 'endpoints', i];
      const problem = (sub: readonly PathKey[], message: string, fix?: string) =>
        problems.push({ code: 'CONFIG_INVALID', file, ...locate([...at, ...sub]), path: dotted([...at, ...sub]), message, ...(fix ? { fix } : {}) });
      const where = `${basename(file)}:${locate(at).line}`;
      const user = ids.get(e.id);
      if (user) problem(['id'], `${e.id} is already used by ${user}`, 'give the site endpoint an id of its own, such as site.<provider>.<what>');
      ids.set(e.id, `the site endpoint at ${where}`);

      for (const [name, type] of Object.entries(e.variables)) {
        const known = variables[name] ?? ownVariables[name];
        if (variables[name]) problem(['variables', name], `{${name}} is the pack's own variable (${variables[name].type}); use it without declaring it`, `remove ${name} from variables`);
        else if (known && known.type !== type) problem(['variables', name], `{${name}} is declared as ${known.type} by another site endpoint of ${providerTitle}`, 'use one type for one name, or another name');
        else ownVariables[name] = { type, description: `declared by the site endpoint ${e.id}` };
      }
      const declared = { ...variables, ...ownVariables };
      e.urls.forEach((url, u) => {
        // The schema checked the syntax; here, what each variable is for this provider.
        for (const { name, inHost } of variableUses(parseTemplate(url) as Template)) {
          const v = declared[name];
          if (inHost && (!v || !HOST_VARIABLE_TYPES.has(v.type))) {
            const hostVariables = Object.entries(variables).filter(([, pv]) => HOST_VARIABLE_TYPES.has(pv.type)).map(([n]) => `{${n}}`);
            problem(
              ['urls', u],
              `{${name}} cannot stand for the host: ${hostVariables.length > 0 ? `${providerTitle}'s host variable is ${hostVariables.join(' or ')}` : 'a site-defined provider names its hosts'}`,
              hostVariables.length > 0 ? `write ${url.replace(`{${name}}`, hostVariables[0]!)}` : 'write the host out, such as https://api.example.com/...',
            );
          } else if (!inHost && !v) {
            problem(['urls', u], `{${name}} is not a variable of ${providerTitle}`, `declare it under variables (${name}: segment, guid or domain), or use one of the pack's: ${pathVariables(variables) || 'it has none'}`);
          } else if (!inHost && HOST_VARIABLE_TYPES.has(v!.type)) {
            problem(['urls', u], `{${name}} is a host variable and cannot stand in the path`);
          }
        }
      });
      for (const [q, name] of (e.query?.oneOf ?? []).entries()) {
        if (!variables[name]?.site) problem(['query', 'oneOf', q], `query.oneOf names ${name}, which is not a site-bound variable of ${providerTitle}`, `name one of: ${Object.entries(variables).filter(([, v]) => v.site && !HOST_VARIABLE_TYPES.has(v.type)).map(([n]) => n).join(', ') || 'none (this provider has no query binding)'}`);
      }
      const writes = writeMethods(e.kind, e.methods);
      if (writes.length > 0) warnings.push(`site endpoint ${e.id} (${where}) allows ${writes.join(', ')}: writes to ${providerTitle}, acknowledged`);
      const endpoint: SourceEndpoint = { id: e.id, kind: e.kind, methods: e.methods, urls: e.urls, reason: e.reason, query: e.query, site: where };
      warnings.push(...overlaps(endpoint, packEndpoints));
      out.push(endpoint);
    });
    return { endpoints: out, variables: ownVariables };
  };

  const sources: PolicySource[] = packs.map((pack) => {
    const listed = config.providers?.[pack.provider as keyof NonNullable<SiteConfig['providers']>];
    const base: PolicySource = { ...pack, siteDefined: false };
    if (!listed || listed.endpoints.length === 0) return base;
    const added = addSite(['providers', pack.provider], pack.title, pack.variables, listed.endpoints, pack.endpoints);
    return { ...base, variables: { ...pack.variables, ...added.variables }, endpoints: [...pack.endpoints, ...added.endpoints] };
  });
  for (const [name, p] of Object.entries(config.siteProviders)) {
    const added = addSite(['siteProviders', name], p.title, {}, p.endpoints, []);
    sources.push({ provider: name, title: p.title, variables: added.variables, endpoints: added.endpoints, logQuery: [], siteDefined: true });
  }
  if (problems.length > 0) throw new ConfigError(problems.sort((a, b) => a.line - b.line || a.col - b.col));
  return { sources, warnings };
}

function pathVariables(variables: Readonly<Record<string, PackVariable>>): string {
  return Object.entries(variables)
    .filter(([, v]) => !HOST_VARIABLE_TYPES.has(v.type))
    .map(([n]) => `{${n}}`)
    .join(', ');
}

/**
 * How a site template relates to a pack template on the same host: the same path (so the same
 * trie node: the site adds methods there, or nothing), or one that takes precedence for some of
 * the pack's paths. Matching prefers a literal segment to a variable at the first place two paths
 * differ (path-table.ts matchPath), so a site literal where the pack has a variable takes those
 * paths from the pack endpoint, and a site variable where the pack has a literal leaves them to it.
 */
function overlaps(site: SourceEndpoint, packEndpoints: readonly SourceEndpoint[]): string[] {
  const out: string[] = [];
  for (const pack of packEndpoints) {
    for (const su of site.urls) {
      for (const pu of pack.urls) {
        const relation = relate(parseTemplate(su) as Template, parseTemplate(pu) as Template);
        if (relation === 'same') {
          const added = site.methods.filter((m) => !pack.methods.includes(m));
          out.push(
            added.length === 0
              ? `site endpoint ${site.id} (${site.site}) duplicates ${pack.id}, which already allows ${pack.methods.join(', ')} on ${pu}: remove it`
              : `site endpoint ${site.id} (${site.site}) adds ${added.join(', ')} to ${pack.id}'s path ${pu}`,
          );
        } else if (relation === 'shadows') {
          out.push(`site endpoint ${site.id} (${site.site}) shadows ${pack.id}: requests to ${su} are judged by the site endpoint (${site.methods.join(', ')}), not by ${pack.id} (${pack.methods.join(', ')})`);
        }
      }
    }
  }
  return out;
}

function relate(site: Template, pack: Template): 'same' | 'shadows' | undefined {
  const sameHost =
    site.host.kind === 'literal' && pack.host.kind === 'literal'
      ? site.host.host === pack.host.host && site.host.port === pack.host.port
      : site.host.kind === 'variable' && pack.host.kind === 'variable' && site.host.name === pack.host.name;
  if (!sameHost || site.segments.length !== pack.segments.length) return undefined;
  let first: 'site-literal' | 'pack-literal' | undefined;
  for (const [i, s] of site.segments.entries()) {
    const p = pack.segments[i]!;
    if (s.kind === 'literal' && p.kind === 'literal') {
      if (s.value !== p.value) return undefined;
    } else if (s.kind !== p.kind) {
      first ??= s.kind === 'literal' ? 'site-literal' : 'pack-literal';
    }
  }
  return first === undefined ? 'same' : first === 'site-literal' ? 'shadows' : undefined;
}
