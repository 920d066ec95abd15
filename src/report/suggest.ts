import { stringify } from 'yaml';
import type { SiteConfig } from '../config/schema.js';
import { writeMethods } from '../core/endpoint-methods.js';
import { parseTemplate } from '../core/template.js';
import { ENTRA_MULTI_TENANT_ALIASES, HOST_VARIABLE_TYPES } from '../core/variables.js';
import { routeOf } from '../policy/compile.js';
import { judge } from '../policy/judge.js';
import type { Policy } from '../policy/model.js';
import type { Pack } from '../policy/pack.js';
import { splitTarget, templateShape } from './path-shape.js';
import { inWindow, type ReportWindow } from './read-logs.js';

/**
 * `report --suggest` (docs/rollout.md, "Review"): for the calls the policy denied or would deny,
 * the config change that would allow each group, ready to paste: a binding to add, a provider to
 * turn on, or a site endpoint whose template is the observed paths with their ids collapsed by
 * the report's own shape rules. Each says how many calls it would have allowed and which clients
 * made them. It never suggests a wildcard host or an unbound tenant: where only such a change
 * would allow a call, it says so instead.
 */

export interface Suggestion {
  readonly kind: 'bind' | 'enable-provider' | 'site-endpoint' | 'site-provider';
  /** One line: what the change does. */
  readonly summary: string;
  /** The change as a config fragment rooted at the top of the file, to merge into it. */
  readonly yaml: string;
  readonly calls: number;
  /** The client addresses that made them, the first 20 seen; the calls of any others are counted. */
  readonly clients: readonly string[];
  readonly callsFromOthers: number;
  /** The observed requests it covers, as METHOD host shape. */
  readonly covers: readonly string[];
  /** What a reviewer must weigh before pasting (a write, a shadowed pack endpoint). */
  readonly caution: string | undefined;
}

export interface Unsuggested {
  readonly request: string;
  readonly code: string;
  readonly calls: number;
  readonly why: string;
}

export interface Suggestions {
  readonly suggestions: readonly Suggestion[];
  readonly none: readonly Unsuggested[];
}

/** One denied call as the audit recorded it. */
export interface DeniedCall {
  readonly method: string;
  readonly url: string;
  readonly code: string;
  readonly client: string;
}

/** Client addresses a suggestion names; a flood from many addresses is counted past them. */
const CLIENTS_SHOWN = 20;

/** Denials a config change could lift: the policy lacked an endpoint, a binding or a provider. */
const POLICY_GAPS: ReadonlySet<string> = new Set(['HOST_NOT_ALLOWED', 'PATH_NOT_ALLOWED', 'METHOD_NOT_ALLOWED', 'TENANT_NOT_ALLOWED', 'QUERY_NOT_ALLOWED']);

interface Draft {
  kind: Suggestion['kind'];
  /** Written when the result is read: a binding's values grow with the calls. */
  summary: () => string;
  /** The pack whose provider a fragment turns on, to check it binds what must be bound. */
  enables: Pack | undefined;
  fragment: Record<string, unknown>;
  calls: number;
  clients: Set<string>;
  callsFromOthers: number;
  covers: Set<string>;
  caution: string | undefined;
}

export class SuggestionBuilder {
  private readonly drafts = new Map<string, Draft>();
  private readonly ids = new Set<string>();
  private readonly none = new Map<string, Unsuggested & { calls: number }>();

  constructor(
    private readonly policy: Policy,
    /** Every shipped pack on and unbound: which pack entry would allow a call. */
    private readonly reference: Policy,
    private readonly packs: readonly Pack[],
    private readonly config: SiteConfig,
    private readonly window: ReportWindow = {},
  ) {}

  /** One audit event: denials and would-denies count, everything else passes by. */
  addEvent(e: Record<string, unknown>): void {
    if (!inWindow(this.window, Date.parse(String(e['time'] ?? '')))) return;
    if (e['decision'] !== 'deny' && e['decision'] !== 'would_deny') return;
    const call = { method: String(e['method'] ?? ''), url: String(e['url'] ?? ''), code: String(e['code'] ?? ''), client: String(e['client'] ?? '') };
    if (e['event'] === 'request') this.add(call);
    else if (e['event'] === 'connect' && POLICY_GAPS.has(call.code)) {
      // Refused at the CONNECT: the paths inside were never seen.
      this.refuse(`CONNECT ${call.url}`, call.code, 'refused at the CONNECT, so no path was seen; run this host in observe mode (mode: observe, or a provider in observe) for a week to learn which paths it needs');
    }
  }

  add(call: DeniedCall): void {
    let url: URL;
    try {
      url = new URL(call.url);
    } catch {
      return;
    }
    const host = url.hostname;
    const { path } = splitTarget(call.url, false);
    const shape = templateShape([this.policy, this.reference], host, path);
    const request = `${call.method} ${host} ${shape}`;
    if (call.code === 'PORT_NOT_ALLOWED') {
      this.refuse(request, call.code, 'the host is allowed on another port; if the service really listens on this one, name the port in its base URL or host by hand');
      return;
    }
    if (!POLICY_GAPS.has(call.code)) {
      this.refuse(request, call.code, 'refused on purpose whatever the config (docs/errors.md); no config change would allow it');
      return;
    }
    const ref = judge(this.reference, { form: 'absolute', method: call.method, url: call.url }).decision;
    if (ref.action === 'allow') {
      this.fromPack(call, url, path, ref.provider!, ref.template!, ref.endpoint!, request);
      return;
    }
    if (ref.code === 'TENANT_NOT_ALLOWED' || [...path.split('/')].some((s) => ENTRA_MULTI_TENANT_ALIASES.has(s.toLowerCase()))) {
      this.refuse(request, call.code, 'the only change that would allow it is an unbound tenant (a multi-tenant alias such as common), which the gateway never allows');
      return;
    }
    if (url.port !== '' && url.port !== '443') {
      this.refuse(request, call.code, `port ${url.port}: a site endpoint names its port in the host (https://${host}:${url.port}/...); write it by hand after checking the service`);
      return;
    }
    // A path some endpoint has, with another method: the new entry takes that endpoint's own
    // template, so that both sit on one node of the path trie and the method is found there.
    const own = judge(this.policy, { form: 'absolute', method: call.method, url: call.url }).decision;
    const matched = own.code === 'METHOD_NOT_ALLOWED' && own.template ? own.template : ref.code === 'METHOD_NOT_ALLOWED' && ref.template ? ref.template : undefined;
    this.siteEndpoint(call, host, path, request, matched === undefined ? undefined : matched.slice(matched.indexOf('/', 'https://'.length)));
  }

  result(): Suggestions {
    const drafts = [...this.drafts.values()].filter((d) => {
      const unbound = d.enables && unboundRequired(d.enables, (d.fragment['providers'] as Record<string, Record<string, unknown>>)[d.enables.provider]!);
      if (!unbound) return true;
      for (const request of d.covers) {
        this.refuse(request, 'HOST_NOT_ALLOWED', `turning ${d.enables!.title} on would leave ${unbound} unbound, and no denied call named its value; set it by hand, then run the report again`);
      }
      return false;
    });
    const suggestions = drafts
      .map((d) => ({ d, summary: d.summary() }))
      .sort((a, b) => b.d.calls - a.d.calls || a.summary.localeCompare(b.summary))
      .map<Suggestion>(({ d, summary }) => ({
        kind: d.kind,
        summary,
        yaml: stringify(d.fragment, { lineWidth: 0 }),
        calls: d.calls,
        clients: [...d.clients].sort(),
        callsFromOthers: d.callsFromOthers,
        covers: [...d.covers].sort(),
        caution: d.caution,
      }));
    return { suggestions, none: [...this.none.values()].sort((a, b) => b.calls - a.calls || a.request.localeCompare(b.request)) };
  }

  /** A shipped pack has the endpoint: the site lacks the provider, or a binding for this value. */
  private fromPack(call: DeniedCall, url: URL, path: string, provider: string, template: string, endpoint: string, request: string): void {
    const pack = this.packs.find((p) => p.provider === provider)!;
    const bindings: Record<string, string[]> = {};
    const bind = (key: string | undefined, value: string) => {
      if (key) bindings[key] = [...new Set([...(bindings[key] ?? []), value])];
    };
    // Path variables: the template and the path line up segment for segment.
    const templateSegments = new URL(template.replace(/\{(\w+)\}/g, '__var_$1__')).pathname.split('/');
    const segments = path.split('/');
    templateSegments.forEach((t, i) => {
      const m = /^__var_(\w+)__$/.exec(t);
      if (m) bind(pack.variables[m[1]!]?.site, decodeURIComponent(segments[i] ?? ''));
    });
    // The host: a provider whose host the site binds (Okta's org, OneLogin's host).
    for (const v of Object.values(pack.variables)) if (v.type === 'host' && v.site) bind(v.site, url.hostname);
    // Query bindings (Google's customer and domain): the values the call named.
    const oneOf = pack.endpoints.find((e) => e.id === endpoint)?.query?.oneOf ?? [];
    for (const name of oneOf) {
      const key = pack.variables[name]?.site;
      for (const value of url.searchParams.getAll(name)) if (value !== '[REDACTED]' && !pack.variables[name]?.accepts?.includes(value)) bind(key, value);
    }
    const status = this.policy.providers.find((p) => p.provider === provider);
    const listed = this.config.providers?.[provider as keyof NonNullable<SiteConfig['providers']>];
    const missing = Object.fromEntries(Object.entries(bindings).filter(([key, values]) => values.some((v) => !boundValues(listed, key).includes(v.toLowerCase()))));
    const enable = !status?.enabled;
    if (!enable && Object.keys(missing).length === 0) {
      this.refuse(request, call.code, `${endpoint} would allow it and every value it names is bound; check the denial reason`);
      return;
    }
    // One draft per provider and kind: later calls add the values they name to its fragment.
    const key = `${provider} ${enable ? 'enable' : 'bind'}`;
    let d = this.drafts.get(key);
    if (!d) {
      const body: Record<string, unknown> = enable && listed?.enabled === false ? { enabled: true } : {};
      const bound = () => Object.entries(body).filter(([k]) => k !== 'enabled').map(([k, v]) => `providers.${provider}.${k}: ${(v as string[]).join(', ')}`);
      const summary = enable
        ? () => `turn on ${pack.title}${bound().length > 0 ? `, bound to the values the calls named (${bound().join('; ')})` : ''}`
        : () => `bind ${bound().join(' and ')}`;
      d = this.newDraft(key, enable ? 'enable-provider' : 'bind', summary, { providers: { [provider]: body } }, undefined, enable ? pack : undefined);
    }
    const into = (d.fragment['providers'] as Record<string, Record<string, unknown>>)[provider]!;
    for (const [name, list] of Object.entries(enable ? bindings : missing)) into[name] = [...new Set([...((into[name] as string[] | undefined) ?? []), ...list])];
    this.count(d, call, request);
  }

  /** No pack has it: an endpoint of the site's own, on the provider that owns the host or a new one. */
  private siteEndpoint(call: DeniedCall, host: string, path: string, request: string, matchedPath: string | undefined): void {
    const route = routeOf(this.policy, host) ?? routeOf(this.reference, host);
    const provider = route?.provider;
    const pack = provider === undefined ? undefined : this.packs.find((p) => p.provider === provider);
    let authority = host;
    let rest = path;
    /** The site's own value for the pack's host variable, when it leaves it unbound (never a wildcard). */
    let hostBinding: Record<string, string[]> = {};
    if (pack) {
      const hostVariable = Object.entries(pack.variables).find(([, v]) => HOST_VARIABLE_TYPES.has(v.type));
      const literalHost = pack.endpoints.some((e) => e.urls.some((u) => u.startsWith(`https://${host}/`)));
      if (hostVariable && !literalHost) {
        authority = `{${hostVariable[0]}}`;
        const key = hostVariable[1].site!;
        const listed = this.config.providers?.[provider as keyof NonNullable<SiteConfig['providers']>];
        if (boundValues(listed, key).length === 0) hostBinding = { [key]: [host] };
        // A base URL's own path (Keycloak's /auth) is part of {baseUrl}, not of the template.
        const base = hostVariable[1].type === 'base-url' ? longestBasePrefix(this.config, provider!, host, matchedPath ?? path) : '';
        rest = (matchedPath ?? path).slice(base.length);
      } else if (matchedPath !== undefined) {
        rest = matchedPath;
      }
    } else if (matchedPath !== undefined) {
      rest = matchedPath;
    }
    // Ids named as the pack's templates name them ({userid}: no declaration needed), the rest {id}.
    const shaped = matchedPath !== undefined ? rest.split('/') : templateShape([this.reference], host, rest).split('/');
    // Each collapsed id is a path variable of its own: {id}, {id2}, ...
    let n = 0;
    const names: string[] = [];
    const segments = shaped.map((s) => {
      if (s !== '{id}') return s;
      const name = ++n === 1 ? 'id' : `id${n}`;
      names.push(name);
      return `{${name}}`;
    });
    if (segments.slice(1).some((s) => s === '' || s === '.' || s === '..')) {
      this.refuse(request, call.code, 'an empty or dot segment: no template names it');
      return;
    }
    const template = `https://${authority}${segments.join('/')}`;
    // What is pasted must load: a segment the template grammar refuses (%-encoded, *, braces) is said, not suggested.
    const invalid = parseTemplate(template);
    if (typeof invalid === 'string') {
      this.refuse(request, call.code, `no site endpoint can name this path (${invalid}); if the call is needed, ask the vendor which endpoint it is`);
      return;
    }
    const key = `${call.method} ${template}`;
    const known = this.drafts.get(key);
    if (known) {
      this.count(known, call, request);
      return;
    }
    const label = startWithLetter((provider ?? host.split('.').slice(0, -1).join('-')).toLowerCase().replace(/[^a-z0-9-]+/g, '-'));
    const what = startWithLetter(segments.filter((s) => s && !s.startsWith('{')).slice(-2).join('-').toLowerCase().replace(/[^a-z0-9-]+/g, '-') || 'root');
    const id = this.uniqueId(`site.${label}.${what}`);
    const writes = writeMethods('api', [call.method]);
    const entry: Record<string, unknown> = { id, methods: [call.method], urls: template, reason: `observed: ${call.method} ${templateShape([this.policy, this.reference], host, path)} (review before enforcing)` };
    if (names.length > 0) entry['variables'] = Object.fromEntries(names.map((name) => [name, 'segment']));
    if (writes.length > 0) entry['acknowledgeWrites'] = true;
    const caution = writes.length > 0 ? `${call.method} writes to the provider, which User Sync never does; allow it only if the site knows why` : undefined;
    const siteDefined = provider === undefined || !pack;
    const fragment = siteDefined
      ? { siteProviders: { [label]: { title: host, endpoints: [entry] } } }
      : { providers: { [provider!]: { ...hostBinding, endpoints: [entry] } } };
    const summary = siteDefined ? `a site provider for ${host} (no pack names it), with ${call.method} ${template}` : `a site endpoint under ${provider}: ${call.method} ${template}`;
    this.count(this.newDraft(key, siteDefined ? 'site-provider' : 'site-endpoint', () => summary, fragment, caution, undefined), call, request);
  }

  private uniqueId(base: string): string {
    let id = base;
    for (let n = 2; this.ids.has(id); n++) id = `${base}-${n}`;
    this.ids.add(id);
    return id;
  }

  private newDraft(key: string, kind: Draft['kind'], summary: () => string, fragment: Record<string, unknown>, caution: string | undefined, enables: Pack | undefined): Draft {
    const d: Draft = { kind, summary, enables, fragment, calls: 0, clients: new Set(), callsFromOthers: 0, covers: new Set(), caution };
    this.drafts.set(key, d);
    return d;
  }

  private count(d: Draft, call: DeniedCall, request: string): void {
    d.calls++;
    if (d.clients.size < CLIENTS_SHOWN) d.clients.add(call.client);
    else if (!d.clients.has(call.client)) d.callsFromOthers++;
    d.covers.add(request);
  }

  private refuse(request: string, code: string, why: string): void {
    const key = `${request} ${code}`;
    const known = this.none.get(key);
    if (known) known.calls++;
    else this.none.set(key, { request, code, calls: 1, why });
  }
}

function startWithLetter(name: string): string {
  const trimmed = name.replace(/^-+|-+$/g, '');
  return /^[a-z]/.test(trimmed) ? trimmed : `p-${trimmed}`;
}

/** A site-bound tenant or host the fragment would leave unbound, by its config key. */
function unboundRequired(pack: Pack, body: Record<string, unknown>): string | undefined {
  const required = Object.values(pack.variables).find((v) => v.site && (v.type === 'entra-tenant' || HOST_VARIABLE_TYPES.has(v.type)) && !Array.isArray(body[v.site]));
  return required ? `providers.${pack.provider}.${required.site}` : undefined;
}

function boundValues(listed: unknown, key: string): string[] {
  const values = (listed as Record<string, unknown> | undefined)?.[key];
  return Array.isArray(values) ? values.map((v) => (typeof v === 'string' ? v : String((v as { text?: string }).text ?? v)).toLowerCase()) : [];
}

/** The path prefix of the site's base URL for this host (Keycloak's /auth), or ''. */
function longestBasePrefix(config: SiteConfig, provider: string, host: string, path: string): string {
  const listed = (config.providers as Record<string, Record<string, unknown>> | undefined)?.[provider];
  const bases = ((listed?.['baseUrl'] as { host: string; prefix: readonly string[] }[] | undefined) ?? []).filter((b) => b.host === host);
  const prefixes = bases.map((b) => (b.prefix.length > 0 ? `/${b.prefix.join('/')}` : '')).filter((p) => path === p || path.startsWith(`${p}/`));
  return prefixes.sort((a, b) => b.length - a.length)[0] ?? '';
}

export const SUGGEST_FORMATS = ['text', 'markdown', 'json'] as const;
export type SuggestFormat = (typeof SUGGEST_FORMATS)[number];

export function renderSuggestions(r: Suggestions, format: SuggestFormat): string {
  if (format === 'json') return `${JSON.stringify(r, null, 2)}\n`;
  const md = format === 'markdown';
  const out: string[] = [md ? '# Suggested config changes\n' : 'Suggested config changes (merge each fragment into the config, review, then run check):\n'];
  if (r.suggestions.length === 0) out.push(md ? '_None: no denied call a config change would allow._\n' : '  (none: no denied call a config change would allow)\n');
  r.suggestions.forEach((s, i) => {
    const facts = `${s.calls} call${s.calls === 1 ? '' : 's'} from ${s.clients.join(', ')}${s.callsFromOthers > 0 ? ` (and ${s.callsFromOthers} from other addresses)` : ''}; covers ${s.covers.join('; ')}`;
    if (md) {
      out.push(`## ${i + 1}. ${s.summary}\n`, `${facts}.${s.caution ? ` **Caution:** ${s.caution}.` : ''}\n`, '```yaml', s.yaml.trimEnd(), '```\n');
    } else {
      out.push(`${i + 1}. ${s.summary}`, `   ${facts}`, ...(s.caution ? [`   caution: ${s.caution}`] : []), ...s.yaml.trimEnd().split('\n').map((l) => `   | ${l}`), '');
    }
  });
  if (r.none.length > 0) {
    out.push(md ? '## Denials no config change should allow\n' : 'Denials no config change should allow:');
    for (const n of r.none) out.push(md ? `- \`${n.request}\` (${n.code}, ${n.calls} call${n.calls === 1 ? '' : 's'}): ${n.why}` : `  ${n.request}  ${n.code}  ${n.calls} call${n.calls === 1 ? '' : 's'}: ${n.why}`);
    out.push('');
  }
  return out.join('\n');
}
