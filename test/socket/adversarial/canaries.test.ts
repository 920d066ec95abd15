import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Child } from '../../support/child.js';
import { cliIn } from '../../support/cli.js';
import { FakeProvider } from '../../support/fake-provider.js';
import { harnessConfig, PROVIDER_HOSTS } from '../../support/gateway.js';
import { BOUND_SITE, TENANT } from '../../support/policy.js';
import { testCa } from '../../support/pki.js';
import { completeResponse, openConnect, readUntil, sendRaw, tlsOver } from '../../support/raw.js';
import { Collector, RSYSLOG_INSTALL } from '../../support/rsyslog.js';
import { needs } from '../../support/tools.js';
import { until } from '../../support/wait.js';

/** The collector's copy is checked where rsyslog is installed (always under CI). */
const RSYSLOG = needs(['rsyslogd'], RSYSLOG_INSTALL);

/**
 * The canary matrix: every credential-bearing name in the OAuth 2.0, OIDC, token-exchange,
 * device-flow and SAML specifications and the five vendors' documentation, plus names nobody
 * lists, each with its own canary value, in allowed, denied, failed and malformed requests, in
 * every request form and position. None may appear in stdout, the audit file, stderr, /metrics,
 * any report format, or any answer the gateway makes itself.
 */
const SECRET_NAMES = [
  // RFC 6749, 6750, 7009, 7521-7523, 7636, 7662, 8628, 8693, 9101, 9126
  'access_token', 'refresh_token', 'code', 'client_secret', 'password', 'username', 'assertion', 'client_assertion', 'code_verifier',
  'code_challenge', 'device_code', 'user_code', 'subject_token', 'actor_token', 'token', 'request', 'request_uri',
  // OpenID Connect Core, CIBA, logout
  'id_token', 'id_token_hint', 'login_hint_token', 'auth_req_id', 'logout_token', 'nonce', 'state',
  // SAML 2.0 bindings
  'SAMLRequest', 'SAMLResponse', 'SAMLart', 'Signature', 'RelayState',
  // vendors and generic keys
  'key', 'oauth_token', 'api_key', 'apikey', 'sig', 'signature', 'secret', 'jwt', 'private_key', 'auth', 'x-api-key', 'sessionToken',
  // cursors and filters: not secrets by name, but their values are not the log's to keep
  '$skiptoken', '$deltatoken', '$filter', 'pageToken', 'after', 'q', 'search', 'userKey',
  // names nobody lists
  'zq_unknown', 'X-Custom', 'a.b', '__proto__',
];

let counter = 0;
const canaries: string[] = [];
function canary(): string {
  const c = `CNRY${(counter++).toString().padStart(3, '0')}zq`;
  canaries.push(c);
  return c;
}

/** A query carrying every name, each with a fresh canary, plus a bare item and an odd name. */
function poisonedQuery(): string {
  const pairs = SECRET_NAMES.map((n) => `${encodeURIComponent(n)}=${canary()}`);
  pairs.push(canary(), `${canary()}%20name=1`, `$top=5`);
  return pairs.join('&');
}

let provider: FakeProvider;
let child: Child;
let port: number;
let adminPort: number;
let dir: string;
let gatewayCa: string;
let stdout = '';
const answers: string[] = [];
let collector: Collector | undefined;

beforeAll(async () => {
  const providerCa = await testCa();
  provider = await FakeProvider.start(providerCa.ca, PROVIDER_HOSTS);
  // A path whose provider resets the connection: an upstream failure quotes the request.
  provider.on('GET /v1.0/groups/reset', (req) => req.socket.destroy());
  provider.on(`POST /${TENANT}/oauth2/v2.0/token`, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': `s=${canary()}` });
    res.end(JSON.stringify({ token_type: 'Bearer', expires_in: 3599, access_token: canary(), refresh_token: canary(), id_token: canary() }));
  });
  dir = mkdtempSync(join(tmpdir(), 'idp-egress-canary-'));
  const configFile = join(dir, 'idp-egress.yaml');
  collector = RSYSLOG.skip ? undefined : await Collector.start();
  const syslog = collector ? `\n  syslog:\n    target: 127.0.0.1:${collector.port}\n    transport: tcp` : '';
  writeFileSync(configFile, harnessConfig(provider.port, providerCa.certFile, { site: BOUND_SITE, log: `log:\n  stdout: true\n  file: logs/audit.jsonl\n  level: debug${syslog}` }));
  const started = await Child.serve(configFile, dir);
  child = started.child;
  port = started.port;
  child.proc.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  adminPort = Number((await child.waitFor(/admin on 127\.0\.0\.1:(\d+)/))[1]);
  gatewayCa = readFileSync(join(dir, 'certs/ca.pem'), 'utf8');
});

afterAll(async () => {
  if (child.proc.exitCode === null) child.kill('SIGKILL');
  await provider.close();
  await collector?.stop();
});

async function viaTunnel(host: string, bytes: string, connectHeaders = ''): Promise<string> {
  const { socket } = await openConnect(port, `${host}:443`, connectHeaders);
  const tls = await tlsOver(socket, host, gatewayCa);
  tls.write(bytes);
  const text = await readUntil(tls, completeResponse, 5_000);
  tls.destroy();
  return text;
}

/** Keeps what the gateway answered itself (it carries its code header), not what the provider sent. */
function keep(text: string): string {
  if (/\r\nx-idp-egress-code: /i.test(text.slice(0, text.indexOf('\r\n\r\n')))) answers.push(text);
  return text;
}

/**
 * Basic credentials (RFC 7617) with a canary password. The header carries them in base64, where
 * the canary's own text is not: the encoded value is a canary of its own, so a log that kept the
 * header as sent is caught too.
 */
function basic(user: string): string {
  const encoded = Buffer.from(`${user}:${canary()}`).toString('base64');
  canaries.push(encoded);
  return `Basic ${encoded}`;
}

function headers(): string {
  return [
    `Authorization: Bearer ${canary()}`,
    `Cookie: session=${canary()}`,
    `DPoP: ${canary()}`,
    `X-Api-Key: ${canary()}`,
    `Proxy-Authorization: ${basic('u')}`,
  ].join('\r\n');
}

describe('adversarial: the canary matrix', () => {
  it('sends canaries in every position, allowed, denied, failed and malformed', async () => {
    const graph = 'graph.microsoft.com';
    const requests: [string, () => Promise<string>][] = [
      // Inside a tunnel: allowed, denied (path, method), ambiguous, failed upstream, absolute-form.
      ['tunnel allowed', () => viaTunnel(graph, `GET /v1.0/users?${poisonedQuery()}#${canary()} HTTP/1.1\r\nHost: ${graph}\r\n${headers()}\r\n\r\n`)],
      ['tunnel path denied', () => viaTunnel(graph, `GET /v1.0/users/u1/drive?${poisonedQuery()} HTTP/1.1\r\nHost: ${graph}\r\n${headers()}\r\n\r\n`)],
      ['tunnel method denied', () => viaTunnel(graph, `DELETE /v1.0/users/u1?${poisonedQuery()} HTTP/1.1\r\nHost: ${graph}\r\n\r\n`)],
      ['tunnel ambiguous path', () => viaTunnel(graph, `GET /v1.0//users/%2e%2e/x?${poisonedQuery()} HTTP/1.1\r\nHost: ${graph}\r\n\r\n`)],
      ['tunnel path parameters', () => viaTunnel(graph, `GET /v1.0/users;jsessionid=${canary()};${canary()}=${canary()};${canary()}/manager?${poisonedQuery()} HTTP/1.1\r\nHost: ${graph}\r\n${headers()}\r\n\r\n`)],
      ['tunnel upstream reset', () => viaTunnel(graph, `GET /v1.0/groups/reset/members?${poisonedQuery()} HTTP/1.1\r\nHost: ${graph}\r\n\r\n`)],
      ['tunnel absolute-form', () => viaTunnel(graph, `GET https://${graph}/v1.0/users?${poisonedQuery()} HTTP/1.1\r\nHost: ${graph}\r\n\r\n`)],
      ['tunnel Host with userinfo', () => viaTunnel(graph, `GET /v1.0/users HTTP/1.1\r\nHost: alice:${canary()}@${graph}\r\n\r\n`)],
      ['tunnel override header', () => viaTunnel(graph, `GET /v1.0/users?${poisonedQuery()} HTTP/1.1\r\nHost: ${graph}\r\nX-Original-URL: /admin?token=${canary()}\r\n\r\n`)],
      ['tunnel body on GET', () => viaTunnel(graph, `GET /v1.0/users?${poisonedQuery()} HTTP/1.1\r\nHost: ${graph}\r\nContent-Length: 14\r\n\r\n${canary()}`)],
      ['tunnel parser refusal', () => viaTunnel(graph, `GET /v1.0/users?${poisonedQuery()} HTTP/1.1\r\nHost: ${graph}\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n`)],
      [
        'tunnel token call',
        () => {
          const form = `grant_type=client_credentials&client_id=app&client_secret=${canary()}&client_assertion=${canary()}&assertion=${canary()}&refresh_token=${canary()}&code=${canary()}&password=${canary()}`;
          return viaTunnel('login.microsoftonline.com', `POST /${TENANT}/oauth2/v2.0/token?${poisonedQuery()} HTTP/1.1\r\nHost: login.microsoftonline.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${form.length}\r\n${headers()}\r\n\r\n${form}`);
        },
      ],
      [
        // client_secret_basic (RFC 6749 section 2.3.1): the client's secret in the Authorization header.
        'tunnel token call, client_secret_basic',
        () => {
          // The scope is logged on purpose (docs/audit.md); the secret is only in the header.
          const form = 'grant_type=client_credentials&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default';
          return viaTunnel('login.microsoftonline.com', `POST /${TENANT}/oauth2/v2.0/token HTTP/1.1\r\nHost: login.microsoftonline.com\r\nAuthorization: ${basic('app')}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${form.length}\r\n\r\n${form}`);
        },
      ],
      // Credentials on the CONNECT itself, then a request inside the tunnel.
      ['tunnel with credentials on its CONNECT', () => viaTunnel(graph, `GET /v1.0/users HTTP/1.1\r\nHost: ${graph}\r\n\r\n`, `${headers()}\r\n`)],
      // To the proxy itself: absolute-form allowed and denied, origin-form, malformed URLs, http.
      ['absolute allowed', () => sendRaw(port, `GET https://${graph}/v1.0/users?${poisonedQuery()} HTTP/1.1\r\nHost: ${graph}\r\n${headers()}\r\n\r\n`)],
      ['absolute path parameters', () => sendRaw(port, `GET https://${graph}/v1.0/users/u1;jsessionid=${canary()}/manager%3B${canary()} HTTP/1.1\r\nHost: ${graph}\r\n\r\n`)],
      ['absolute denied host', () => sendRaw(port, `GET https://evil.test/x?${poisonedQuery()} HTTP/1.1\r\nHost: evil.test\r\n\r\n`)],
      ['absolute userinfo', () => sendRaw(port, `GET https://alice:${canary()}@${graph}/v1.0/users?${poisonedQuery()} HTTP/1.1\r\nHost: ${graph}\r\n\r\n`)],
      ['absolute http', () => sendRaw(port, `GET http://${graph}/v1.0/users?${poisonedQuery()} HTTP/1.1\r\nHost: ${graph}\r\n\r\n`)],
      ['absolute bad port', () => sendRaw(port, `GET https://${graph}:99999/v1.0/users?${poisonedQuery()} HTTP/1.1\r\nHost: ${graph}\r\n\r\n`)],
      ['origin-form to the proxy', () => sendRaw(port, `GET /v1.0/users?${poisonedQuery()} HTTP/1.1\r\nHost: ${graph}\r\n\r\n`)],
      ['not a URL', () => sendRaw(port, `GET foo?${poisonedQuery()} HTTP/1.1\r\nHost: ${graph}\r\n\r\n`)],
      ['parser refusal to the proxy', () => sendRaw(port, `GET https://${graph}/v1.0/users?${poisonedQuery()} HTTP/1.1\r\nHost: ${graph}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n`)],
      // CONNECT userinfo, in each spelling.
      ['CONNECT user:password@', () => sendRaw(port, `CONNECT alice:${canary()}@${graph}:443 HTTP/1.1\r\nHost: ${graph}:443\r\n\r\n`)],
      ['CONNECT password@', () => sendRaw(port, `CONNECT ${canary()}@${graph}:443 HTTP/1.1\r\nHost: ${graph}:443\r\n\r\n`)],
      ['CONNECT garbage', () => sendRaw(port, `CONNECT ${graph}/x?token=${canary()} HTTP/1.1\r\nHost: ${graph}:443\r\n\r\n`)],
      ['CONNECT denied, with credentials', () => sendRaw(port, `CONNECT evil.test:443 HTTP/1.1\r\nHost: evil.test:443\r\n${headers()}\r\n\r\n`)],
    ];
    for (const [what, send] of requests) {
      const text = keep(await send());
      expect(text, what).toMatch(/^HTTP\/1\.1 \d{3} /);
    }
    // The ones the gateway forwards reached the provider with their canaries: they were sent.
    expect(canaries.filter((c) => provider.received.includes(c)).length).toBeGreaterThan(100);
  });

  it('finds no canary in stdout, the audit file, stderr, /metrics, the dashboard, any report format or --suggest, or the gateway\'s own answers', async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    const dashboard = await (await fetch(`http://127.0.0.1:${adminPort}/dashboard/state.json`)).text();
    expect(JSON.parse(dashboard).denials.length).toBeGreaterThan(0);
    child.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    const auditFile = readFileSync(join(dir, 'logs/audit.jsonl'), 'utf8');
    await until(() => stdout.split('\n').filter(Boolean).length >= auditFile.split('\n').filter(Boolean).length, 3_000, 'stdout has every line');
    const reports: [string, string][] = [];
    for (const format of ['text', 'json', 'markdown', 'html']) {
      const r = await cliIn(BOUND_SITE, ['report', join(dir, 'logs/audit.jsonl'), '--format', format]);
      expect(r.status, r.err).toBe(0);
      reports.push([`report --format ${format}`, r.out + r.err]);
    }
    for (const format of ['text', 'json']) {
      const r = await cliIn(BOUND_SITE, ['report', '--suggest', join(dir, 'logs/audit.jsonl'), '--format', format]);
      expect(r.status, r.err).toBe(0);
      reports.push([`report --suggest --format ${format}`, r.out + r.err]);
    }
    const lines = auditFile.split('\n').filter(Boolean).length;
    // A clean shutdown hands the collector every line (and the debug lines go too).
    if (collector) await until(() => collector!.raw().length >= lines, 5_000, 'the collector has every line');
    const places: [string, string][] = [
      ['stdout', stdout],
      ...(collector ? [['the syslog collector', collector.raw().join('\n')] as [string, string]] : []),
      ['the audit file', auditFile],
      ['stderr', child.stderr],
      ['/metrics', metrics],
      ['the dashboard data', dashboard],
      ...reports,
      ["the gateway's own answers", answers.join('\n')],
    ];
    // Each request was audited: the matrix really ran through the log.
    expect(auditFile.split('\n').filter(Boolean).length).toBeGreaterThan(20);
    expect(auditFile).toContain('[REDACTED]');
    if (collector) expect(collector.raw().join('\n')).toContain('[REDACTED]');
    const hits = places.map(([where, text]) => [where, canaries.filter((c) => text.includes(c))] as const).filter(([, found]) => found.length > 0);
    expect(hits.map(([where, found]) => `${where}: ${found.join(' ')}`)).toEqual([]);
    // Safe names keep their values, so the log is still useful.
    expect(auditFile).toContain('$top=5');
  });
});
