import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { parseLocatedYaml } from '../core/located-yaml.js';
import { ConfigError, type ConfigProblem } from '../core/errors.js';
import { SHIPPED_PACKS_DIR } from '../core/package-root.js';
import { SECRET_QUERY_PARAMS } from '../core/redact.js';
import { parseTemplate, variableUses } from '../core/template.js';
import { HOST_VARIABLE_TYPES, VARIABLE_TYPES } from '../core/variables.js';
import { ENDPOINT_KINDS, PACK_METHODS } from '../core/endpoint-methods.js';


const variableSchema = z.strictObject({
  type: z.enum(VARIABLE_TYPES),
  description: z.string().min(1),
  /** enum: the allowed values. */
  values: z.array(z.string().min(1)).min(1).optional(),
  /** The key under `providers.<provider>` in the site config that binds this variable. */
  site: z.string().min(1).optional(),
  /** Values always accepted besides the bound ones (Google's `my_customer`). */
  accepts: z.array(z.string().min(1)).optional(),
  /** Host variables: host patterns allowed when the site does not bind the variable. */
  unbound: z.array(z.string().min(1)).optional(),
});

const endpointSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z][a-z0-9-]*(?:\.[a-z][a-zA-Z0-9-]*)+$/, 'expected a dotted id such as graph.users.manager'),
    kind: z.enum(ENDPOINT_KINDS),
    methods: z.array(z.enum(PACK_METHODS)).min(1),
    urls: z.array(z.string().min(1)).min(1),
    reason: z.string().min(1),
    /** A row of the vendor's endpoint table: `urls` is that one row's URL, verbatim. */
    documented: z.literal(true).optional(),
    /** Not in the vendor table: where the variant comes from. */
    variant: z.string().min(1).optional(),
    /** Query parameters of which one must bind the call to the site, when the site binds them. */
    query: z.strictObject({ oneOf: z.array(z.string().min(1)).min(1) }).optional(),
  })
  .check((ctx) => {
    const e = ctx.value;
    if ((e.documented === true) === (e.variant !== undefined)) {
      ctx.issues.push({ code: 'custom', input: e, message: 'an endpoint is either documented: true (a vendor table row) or has a variant: note saying where it comes from' });
    }
    if (e.documented && e.urls.length !== 1) {
      ctx.issues.push({ code: 'custom', input: e.urls, path: ['urls'], message: 'a documented endpoint has exactly the one URL of its vendor table row' });
    }
  });

const packSchema = z.strictObject({
  provider: z.string().regex(/^[a-z][a-z0-9-]*$/),
  title: z.string().min(1),
  /** The vendor page the documented entries come from. */
  source: z.string().min(1),
  /** The heading of this provider's table on that page: what `packs diff` finds its rows under. */
  section: z.string().min(1),
  /** Host substitutions selected by a site setting (Entra national clouds). */
  clouds: z
    .strictObject({
      site: z.string().min(1),
      default: z.string().min(1),
      source: z.string().min(1),
      hosts: z.record(z.string(), z.record(z.string(), z.string())),
    })
    .optional(),
  variables: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/), variableSchema),
  endpoints: z.array(endpointSchema).min(1),
  /**
   * Query parameters whose values the audit may show: paging, field selection, the site binding.
   * Every other value is replaced (redact.ts), so a name left out costs a reader detail, never
   * a secret.
   */
  logQuery: z
    .array(
      z
        .string()
        .min(1)
        .refine((name) => !SECRET_QUERY_PARAMS.has(name.toLowerCase()), 'carries credentials or personal data, so its value is never logged; remove it from logQuery'),
    )
    .default([]),
});

export type Pack = z.output<typeof packSchema>;
export type PackEndpoint = Pack['endpoints'][number];
export type PackVariable = Pack['variables'][string];

/** Loads and cross-checks one pack file; every problem carries file:line:col. */
export function parsePack(file: string, text: string): Pack {
  const pack = parseLocatedYaml(file, text, packSchema, 'PACK_INVALID');
  const problems = crossCheck(pack).map<ConfigProblem>((message) => ({ code: 'PACK_INVALID', file, line: 1, col: 1, path: '', message }));
  if (problems.length > 0) throw new ConfigError(problems);
  return pack;
}

function crossCheck(pack: Pack): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const [name, v] of Object.entries(pack.variables)) {
    if (v.type === 'enum' && !v.values) problems.push(`variable ${name}: an enum needs values`);
    if (v.unbound && !HOST_VARIABLE_TYPES.has(v.type)) problems.push(`variable ${name}: only host variables take unbound host patterns`);
    if (HOST_VARIABLE_TYPES.has(v.type) && !v.site) problems.push(`variable ${name}: a host variable must be bound from the site config (site:)`);
  }
  for (const e of pack.endpoints) {
    if (ids.has(e.id)) problems.push(`endpoint ${e.id}: duplicate id`);
    ids.add(e.id);
    for (const url of e.urls) {
      const t = parseTemplate(url);
      if (typeof t === 'string') {
        problems.push(`endpoint ${e.id}: ${url}: ${t}`);
        continue;
      }
      for (const { name, inHost } of variableUses(t)) {
        const v = pack.variables[name];
        if (!v) problems.push(`endpoint ${e.id}: ${url} uses {${name}}, which the pack does not declare`);
        else if (inHost !== HOST_VARIABLE_TYPES.has(v.type)) {
          problems.push(`endpoint ${e.id}: {${name}} is a ${v.type} variable and cannot stand ${inHost ? 'for the host' : 'in the path'}`);
        }
      }
    }
    for (const name of e.query?.oneOf ?? []) {
      if (!pack.variables[name]) problems.push(`endpoint ${e.id}: query.oneOf names ${name}, which the pack does not declare`);
    }
  }
  return problems;
}

export function loadPacks(dir: string = SHIPPED_PACKS_DIR): Pack[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
  } catch (err) {
    throw new ConfigError([{ code: 'CONFIG_UNREADABLE', file: dir, line: 1, col: 1, path: '', message: `cannot read the policy pack folder: ${(err as Error).message}` }]);
  }
  const packs: Pack[] = [];
  const problems: ConfigProblem[] = [];
  for (const f of files) {
    const file = join(dir, f);
    try {
      const pack = parsePack(file, readFileSync(file, 'utf8'));
      if (`${pack.provider}.yaml` !== f) {
        problems.push({ code: 'PACK_INVALID', file, line: 1, col: 1, path: 'provider', message: `provider "${pack.provider}" must live in ${pack.provider}.yaml` });
      }
      for (const e of pack.endpoints) {
        const other = packs.find((p) => p.endpoints.some((o) => o.id === e.id));
        if (other) problems.push({ code: 'PACK_INVALID', file, line: 1, col: 1, path: 'endpoints', message: `endpoint id ${e.id} is also used by the ${other.provider} pack` });
      }
      packs.push(pack);
    } catch (err) {
      if (err instanceof ConfigError) problems.push(...err.problems);
      else throw err;
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return packs;
}
