import { z } from 'zod';
import { parseCidr, parseHostPort } from '../core/address.js';
import { configuredHostProblem, readsAsIpv4 } from '../core/host.js';
import { ENDPOINT_KINDS, RULE_METHODS, writeMethods } from '../core/endpoint-methods.js';
import { SYSLOG_FACILITIES, type SyslogFacility } from '../core/syslog-facility.js';
import { parseTemplate } from '../core/template.js';
import { isDomain, isEntraTenant, isGuid, parseBaseUrl } from '../core/variables.js';
import { MALFORMED_USERINFO, proxyAuthorizationOf } from './proxy-url.js';

/**
 * The site config (idp-egress.yaml). Every key is optional; the defaults are the embedded
 * default config. docs/config.md describes each key; test/unit/config/docs.test.ts keeps them in step.
 */

type Check = (v: string) => string | undefined;

/**
 * A string read into a typed value by `parse`, which returns the value or the reason the string is
 * wrong; `fix` optionally says how to write it. The rest of the program gets the value, never the
 * string to parse again.
 */
function parsed<T extends object>(parse: (v: string) => T | string, fix?: (v: string) => string | undefined) {
  return z.string().transform((v, ctx): T => {
    const r = parse(v);
    if (typeof r !== 'string') return r;
    const f = fix?.(v);
    ctx.issues.push({ code: 'custom', input: v, message: r, ...(f ? { params: { fix: f } } : {}) });
    return z.NEVER;
  });
}

/** A string checked by `check`, which returns the reason it is wrong and optionally a fix. */
function checked(check: Check, fix?: (v: string) => string | undefined) {
  return z.string().check((ctx) => {
    const problem = check(ctx.value);
    if (problem) {
      const f = fix?.(ctx.value);
      ctx.issues.push({ code: 'custom', input: ctx.value, message: problem, ...(f ? { params: { fix: f } } : {}) });
    }
  });
}

/** One value or a list of them; a single value is read as a one-item list. */
function oneOrMany<T extends z.ZodType>(item: T) {
  return z.preprocess((v) => (typeof v === 'string' ? [v] : v), z.array(item).min(1));
}

/** The fix for an IP address where a host name belongs. */
function nameTheHost(ip: string, port = 443): string {
  return `name the host; if DNS does not know the name, map it to this address with upstream.resolve: { <name>: ${ip}:${port} } and list it in upstream.allowPrivate`;
}

const hostName = checked(configuredHostProblem, (v) =>
  /^https?:\/\//i.test(v) ? `write the host alone: ${v.replace(/^https?:\/\//i, '').replace(/\/.*$/, '')}` : readsAsIpv4(v) ? nameTheHost(v) : undefined,
);

const entraTenant = checked(
  (v) =>
    ['common', 'organizations', 'consumers'].includes(v.toLowerCase())
      ? `"${v}" is a multi-tenant alias, not a tenant`
      : isEntraTenant(v)
        ? undefined
        : `"${v}" is neither a tenant GUID nor a domain`,
  (v) =>
    ['common', 'organizations', 'consumers'].includes(v.toLowerCase())
      ? "use the directory (tenant) ID from the Entra admin centre's Overview page, or a verified domain such as contoso.onmicrosoft.com"
      : undefined,
);

const domain = checked((v) => (isDomain(v) ? undefined : `"${v}" is not a domain name`));

const baseUrl = parsed(parseBaseUrl, (v) => {
    if (/^http:\/\//i.test(v)) return `use https: ${v.replace(/^http:/i, 'https:')}`;
    if (!/^https:\/\//i.test(v)) return `add the scheme: https://${v}`;
    const authority = /^https:\/\/([^/:?#@]+)(?::(\d+))?/i.exec(v);
    return authority && readsAsIpv4(authority[1]!) ? nameTheHost(authority[1]!, Number(authority[2] ?? 443)) : undefined;
});

const pathSegment = checked((v) => (v.length > 0 && !/[/\\?#%;\s]/.test(v) ? undefined : `"${v}" must be a single path segment`));

const hostPort = parsed(
  (v) => parseHostPort(v) ?? `"${v}" is not host:port`,
  () => 'write it as 127.0.0.1:3128, [::1]:3128 or 0.0.0.0:3128',
);

/** A listener's address: port 0 takes any free port. */
export const listenAddress = parsed(
  (v) => parseHostPort(v, true) ?? `"${v}" is not host:port`,
  () => 'write it as 127.0.0.1:3128, [::1]:3128 or 0.0.0.0:3128',
);

export const RULES_POSTURES = ['idp-only', 'strict'] as const;
export type RulesPosture = (typeof RULES_POSTURES)[number];

const cidr = parsed((v) => parseCidr(v) ?? `"${v}" is not an IP address or CIDR`, () => 'write it as 10.20.0.0/16, 192.0.2.7 or ::1/128');

const DURATION = /^(\d+)(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** A duration: 500ms, 10s, 5m, 1h, or a plain number of milliseconds. Output is milliseconds. */
const duration = z
  .union([z.number().int().nonnegative(), z.string().regex(DURATION, { error: 'expected a duration such as 500ms, 10s or 5m' })], { error: 'expected a duration such as 500ms, 10s or 5m' })
  .transform((v) => {
    if (typeof v === 'number') return v;
    const m = DURATION.exec(v)!;
    return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  });

const SIZE = /^(\d+)([kmg]?)$/i;
const UNIT_BYTES = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as const;

/** A byte size: 16k, 10m, 1g, or a plain number of bytes. Output is bytes. */
const byteSize = z
  .union([z.number().int().positive(), z.string().regex(SIZE, { error: 'expected a size such as 64k or 10m' })], { error: 'expected a size such as 64k or 10m' })
  .transform((v) => {
    if (typeof v === 'number') return v;
    const m = SIZE.exec(v)!;
    return Number(m[1]) * UNIT_BYTES[m[2]!.toLowerCase() as keyof typeof UNIT_BYTES];
  });

export const MODES = ['enforce', 'observe'] as const;

export type Mode = (typeof MODES)[number];
export const TLS_MODES = ['intercept', 'tunnel'] as const;
export type TlsMode = (typeof TLS_MODES)[number];

export const ENTRA_CLOUDS = ['global', 'usgov', 'usgov-dod', 'china'] as const;

/** Path variable types a site endpoint may declare for itself (an enum needs a pack's values). */
export const SITE_VARIABLE_TYPES = ['segment', 'guid', 'domain'] as const;

/**
 * An endpoint the site adds beyond the vendor's list (docs/policy.md, "Site endpoints"): the same
 * grammar as a pack endpoint, compiled by the same code. What the packs' variables mean for it
 * is checked when the policy is compiled (policy/site-endpoints.ts).
 */
const siteEndpoint = z
  .strictObject({
    id: z.string().regex(/^[a-z][a-z0-9-]*(?:\.[a-z][a-zA-Z0-9-]*)+$/, 'expected a dotted id such as site.okta.system-log'),
    kind: z.enum(ENDPOINT_KINDS).default('api'),
    methods: z.array(z.enum(RULE_METHODS)).min(1),
    urls: oneOrMany(
      checked(
        (u) => {
          const t = parseTemplate(u);
          return typeof t === 'string' ? t : undefined;
        },
        (u) => (u.includes('?') ? 'drop the query: a template names the path, and query parameters pass unless query.oneOf binds them' : undefined),
      ),
    ),
    /** Why the site needs it: shown wherever the endpoint is (explain, endpoints, rules, report). */
    reason: z.string().min(1),
    /** Path variables of its own, name: type; the provider's pack variables need no declaration. */
    variables: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/, 'a variable name is letters and digits, starting with a letter'), z.enum(SITE_VARIABLE_TYPES)).default({}),
    query: z.strictObject({ oneOf: z.array(z.string().min(1)).min(1) }).optional(),
    /** Writes (PUT, PATCH, DELETE, a POST that is not a token request) change the provider's data; say so. */
    acknowledgeWrites: z.literal(true).optional(),
  })
  .check((ctx) => {
    const writes = writeMethods(ctx.value.kind, ctx.value.methods);
    if (writes.length > 0 && ctx.value.acknowledgeWrites !== true) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value.methods,
        path: ['methods'],
        message: `${writes.join(', ')} ${writes.length === 1 ? 'writes' : 'write'} to the provider, which User Sync never needs`,
        params: { fix: 'add acknowledgeWrites: true to this endpoint if the site really needs it, or allow GET only' },
      });
    }
  });

export type SiteEndpointConfig = z.output<typeof siteEndpoint>;

const providerCommon = {
  /** false turns the provider off while keeping its settings. */
  enabled: z.boolean().default(true),
  /** Overrides the global mode for this provider. */
  mode: z.enum(MODES).optional(),
  /** intercept: TLS terminated, every request judged; tunnel: host-level allow only, bytes spliced. */
  tls: z.enum(TLS_MODES).default('intercept'),
  /** Endpoints the site adds to the pack's (docs/policy.md, "Site endpoints"). */
  endpoints: z.array(siteEndpoint).default([]),
};

export const providersSchema = z.strictObject({
  'entra-id': z
    .strictObject({
      ...providerCommon,
      tenant: oneOrMany(entraTenant).optional(),
      cloud: z.enum(ENTRA_CLOUDS).default('global'),
      /** Deny Graph calls whose bearer token was issued by another tenant (TOKEN_TENANT_MISMATCH). */
      checkTokenTenant: z.boolean().default(false),
    })
    .check((ctx) => {
      // A token's tid claim is a GUID; a domain cannot be compared with it.
      if (ctx.value.checkTokenTenant && !(ctx.value.tenant ?? []).some(isGuid)) {
        ctx.issues.push({
          code: 'custom',
          input: true,
          path: ['checkTokenTenant'],
          message: 'needs a tenant GUID in providers.entra-id.tenant to compare tokens with',
          params: { fix: "add the directory (tenant) ID from the Entra admin centre's Overview page to tenant" },
        });
      }
    })
    .optional(),
  google: z
    .strictObject({
      ...providerCommon,
      customer: oneOrMany(pathSegment).optional(),
      domain: oneOrMany(domain).optional(),
    })
    .optional(),
  okta: z.strictObject({ ...providerCommon, domain: oneOrMany(hostName).optional() }).optional(),
  keycloak: z
    .strictObject({
      ...providerCommon,
      baseUrl: oneOrMany(baseUrl).optional(),
      realm: oneOrMany(pathSegment).optional(),
    })
    .check((ctx) => {
      // Keycloak is self-hosted: without a base URL there is no host to allow.
      if (ctx.value.enabled && !ctx.value.baseUrl) {
        ctx.issues.push({
          code: 'custom',
          input: undefined,
          path: ['baseUrl'],
          message: 'is required to turn Keycloak on',
          params: { fix: 'add baseUrl: https://sso.example.org (with /auth if User Sync is configured with it), or enabled: false' },
        });
      }
    })
    .optional(),
  onelogin: z.strictObject({ ...providerCommon, host: oneOrMany(hostName).optional() }).optional(),
});

export type ProvidersConfig = z.output<typeof providersSchema>;
export type ProviderName = keyof ProvidersConfig;
export const PROVIDER_NAMES = Object.keys(providersSchema.shape) as ProviderName[];

/** A provider no pack has: its title and its endpoints, whose hosts are written out. */
const siteProvider = z.strictObject({
  title: z.string().min(1),
  ...providerCommon,
  endpoints: z.array(siteEndpoint).min(1),
});

export type SiteProviderConfig = z.output<typeof siteProvider>;

/** Site providers by name: a name of their own, never a shipped pack's. */
const siteProviders = z.record(z.string(), siteProvider).check((ctx) => {
  for (const name of Object.keys(ctx.value)) {
    const problem = (PROVIDER_NAMES as string[]).includes(name)
      ? { message: 'is a shipped pack', fix: `configure it under providers.${name}, with endpoints: for what the pack lacks` }
      : /^[a-z][a-z0-9-]*$/.test(name)
        ? undefined
        : { message: 'a provider name is lower-case letters, digits and "-", starting with a letter', fix: undefined };
    if (problem) ctx.issues.push({ code: 'custom', input: name, path: [name], message: problem.message, ...(problem.fix ? { params: { fix: problem.fix } } : {}) });
  }
});

export const siteConfigSchema = z.strictObject({
  version: z.literal(1, { error: 'expected version: 1 (the only config version)' }).default(1),
  listen: listenAddress.prefault('127.0.0.1:3128'),
  /** The admin listener (/healthz, /metrics, ...); false turns it off. */
  admin: z.union([z.literal(false), listenAddress], { error: 'expected host:port or false' }).prefault('127.0.0.1:9090'),
  mode: z.enum(MODES).default('enforce'),
  /** The live page at / on the admin listener (docs/audit.md, "Live dashboard"). */
  dashboard: z
    .strictObject({
      /** A file holding the token the page and its data ask for; required when admin is not loopback. */
      tokenFile: z.string().min(1).optional(),
    })
    .prefault({}),
  /** Put the closest rule in 403 bodies (reveals policy to the client, which is the site's own server). */
  explainDenials: z.boolean().default(true),
  /** Absent: every shipped pack on, unbound. Present: only the providers listed here are on. */
  providers: providersSchema.optional(),
  /** Providers no pack has, defined by the site (docs/policy.md, "Site endpoints"). */
  siteProviders: siteProviders.default({}),
  /** Client addresses allowed to use the proxy. */
  clients: z.array(cidr).min(1).prefault(['127.0.0.1/32', '::1/128']),
  /** Optional Basic proxy authentication (secondary: the JDK disables Basic on CONNECT by default). */
  proxyAuth: z.strictObject({ username: z.string().min(1), passwordFile: z.string().min(1) }).optional(),
  upstream: z
    .strictObject({
      /** Parent (corporate) proxy, http://host:port, with user:password@ when it asks for Basic credentials. */
      proxy: z
        .url({ protocol: /^https?$/, error: 'expected an http:// or https:// proxy URL' })
        .refine((text) => proxyAuthorizationOf(new URL(text)).ok, MALFORMED_USERINFO)
        .optional(),
      /** Extra CA certificates (PEM) trusted for upstream TLS, besides the system roots. */
      ca: z.string().min(1).optional(),
      /** Static host -> address:port overrides (split-horizon DNS, tests). */
      resolve: z.record(hostName, hostPort).default({}),
      /** Hosts allowed to resolve to private, loopback or link-local addresses (a self-hosted Keycloak). */
      allowPrivate: z.array(hostName).default([]),
      timeouts: z
        .strictObject({
          connect: duration.default(10_000),
          headers: duration.default(30_000),
          /** Longest silence between two body chunks. */
          body: duration.default(60_000),
          /** Whole request, 0 for none. */
          total: duration.default(0),
        })
        .prefault({}),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxConnections: z.number().int().positive().default(1024),
      /** Connections one client address may hold at once; a quarter of the default maxConnections. */
      maxConnectionsPerClient: z.number().int().positive().default(256),
      maxHeaderBytes: byteSize.default(32 * 1024),
      /** Bytes of a token request or response the audit reads; the stream itself is never cut. */
      maxTokenBodyBytes: byteSize.default(64 * 1024),
      headersTimeout: duration.default(30_000),
      /** Time a forwarded request's body has to arrive, from when it starts going to the provider. */
      requestBodyTimeout: duration.default(30_000),
      idleTimeout: duration.default(60_000),
      /** How long SIGTERM waits for in-flight requests before exiting. */
      shutdownGrace: duration.default(10_000),
    })
    .prefault({}),
  log: z
    .strictObject({
      stdout: z.boolean().default(true),
      file: z.string().min(1).optional(),
      level: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
      rotate: z
        .strictObject({
          size: byteSize.optional(),
          frequency: z.enum(['daily', 'hourly']).optional(),
          keep: z.number().int().positive().default(14),
        })
        .optional(),
      /** Delivery to a SIEM's syslog collector (docs/audit.md, "Delivery to a SIEM"). */
      syslog: z
        .strictObject({
          /** The collector, host:port (RFC 5425 names 6514 for TLS). */
          target: hostPort,
          /** tls (RFC 5425) or tcp (RFC 6587); both octet-counted. There is no UDP: its losses go unseen (RFC 5426 §3.6). */
          transport: z.enum(['tls', 'tcp']).default('tls'),
          format: z.enum(['rfc5424', 'cef']).default('rfc5424'),
          facility: z.enum(Object.keys(SYSLOG_FACILITIES) as [SyslogFacility, ...SyslogFacility[]]).default('local0'),
          /** HOSTNAME in the header and CEF's dvchost; default the machine's name. */
          hostname: z.string().regex(/^[\x21-\x7e]{1,255}$/, { error: 'printable ASCII without spaces, at most 255 characters (RFC 5424 §6.2.4)' }).optional(),
          /** The IANA Private Enterprise Number in the SD-ID audit@<number>; 32473 is the one RFC 5612 reserves for documentation. */
          enterpriseNumber: z.number().int().positive().default(32473),
          tls: z
            .strictObject({
              /** The CA that issued the collector's certificate (PEM); default Node's bundled CAs. */
              ca: z.string().min(1).optional(),
              /** A client certificate and key (PEM) for a collector that asks for one. */
              cert: z.string().min(1).optional(),
              key: z.string().min(1).optional(),
              /** The name the collector's certificate must carry; default the target's host. */
              serverName: z.string().min(1).optional(),
            })
            .prefault({}),
          queue: z
            .strictObject({
              /** Events held in memory while the collector is slow or away, before the spool takes them. */
              memory: z.number().int().positive().default(10_000),
              /** The on-disk spool, relative to the config file; it survives restarts. */
              directory: z.string().min(1).default('syslog-spool'),
              /** The spool's bound: past it the oldest events are dropped and counted. */
              maxDisk: byteSize.default(256 * 1024 ** 2),
            })
            .prefault({}),
          /** Bytes sent again after a lost connection; default the TCP buffers of both ends (docs/audit.md). */
          replayWindow: byteSize.optional(),
          /** /readyz fails once the collector has been unreachable this long; absent, it never does. */
          readyAfterDown: duration.optional(),
        })
        .refine((s) => (s.tls.cert === undefined) === (s.tls.key === undefined), { error: 'tls.cert and tls.key go together: set both for a client certificate, or neither', path: ['tls'] })
        .optional(),
    })
    .prefault({}),
  ca: z
    .strictObject({
      cert: z.string().min(1).default('certs/ca.pem'),
      key: z.string().min(1).default('certs/ca-key.pem'),
    })
    .prefault({}),
  /** What the generated firewall rules constrain (docs/rules.md, "Postures"). */
  rules: z
    .strictObject({
      /** idp-only: only the IdP traffic is constrained; strict: the IdP endpoints and nothing else on the internet. */
      posture: z.enum(RULES_POSTURES).default('idp-only'),
      /** strict: the DNS servers the Atlassian servers may ask (UDP and TCP 53). */
      resolvers: z.array(cidr).prefault([]),
      /** strict: what must stay reachable besides the IdPs: the database, cluster peers, Synchrony, shared storage, internal networks. */
      reachable: z.array(cidr).prefault([]),
      /** The gateway as the clients reach it (PAC), host:port; default the listen address. */
      proxy: hostPort.optional(),
    })
    .prefault({}),
});

export type SiteConfig = z.output<typeof siteConfigSchema>;
