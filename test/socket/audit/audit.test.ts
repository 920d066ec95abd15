// Every call becomes one audit line, and no secret can reach a log at any level: canary values
// are sent everywhere providers put secrets, and must appear nowhere in what was written.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTCOME_CHANNEL, type Outcome } from '../../../src/audit/outcome.js';
import { startHarness, viaProxy, type Harness } from '../../support/gateway.js';
import { completeResponse, openConnect, readUntil, tlsOver } from '../../support/raw.js';
import { auditFile, until } from '../../support/wait.js';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CANARY = {
  clientSecret: 'canary-client-secret-7f3a',
  assertion: 'canary-client-assertion-9b1c',
  refresh: 'canary-refresh-token-4d2e',
  code: 'canary-auth-code-8a6f',
  password: 'canary-password-1e5b',
  accessToken: 'canary-access-token-3c9d',
  idToken: 'canary-id-token-6b2a',
  bearer: 'canary-bearer-5f8e',
  ssws: 'canary-ssws-2a7c',
  basic: 'canary-basic-0d4f',
  onelogin: 'canary-onelogin-secret-6e1b',
  dpop: 'canary-dpop-proof-9c3d',
  cookie: 'canary-cookie-4b8a',
  query: 'canary-query-token-7d2f',
  googleKey: 'canary-google-key-1a9e',
  proxyAuth: 'canary-proxy-auth-3f6c',
} as const;

let h: Harness;
/** What the log wrote to stdout, write by write (a write carries a batch of lines). */
const stdoutWrites: string[] = [];
let logFile: string;

beforeAll(async () => {
  h = await startHarness({
    log: 'log:\n  stdout: true\n  file: logs/audit.jsonl\n  level: debug',
    stdout: { write: (text: string) => void stdoutWrites.push(text) },
  });
  logFile = join(h.dir, 'logs/audit.jsonl');
  h.provider.on(`POST /${TENANT}/oauth2/v2.0/token`, (req, res, body) => {
    if (body.includes('grant_type=refresh_token')) {
      const json = JSON.stringify({
        error: 'invalid_grant',
        error_description: `AADSTS70000: bad grant ${CANARY.refresh}`,
        error_codes: [70000],
        trace_id: 'trace-0001',
        correlation_id: 'corr-0001',
      });
      // Compressed when asked, as a provider's front end does for Apache HttpClient's default Accept-Encoding.
      const gzip = /gzip/.test(req.headers['accept-encoding'] ?? '');
      res.writeHead(400, { 'content-type': 'application/json', ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
      res.end(gzip ? gzipSync(json) : json);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'client-request-id': 'crid-42' });
    res.end(JSON.stringify({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: CANARY.accessToken, refresh_token: CANARY.refresh, id_token: CANARY.idToken }));
  });
  h.provider.on('POST /auth/oauth2/v2/token', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: { error: false, code: 200 }, data: [{ access_token: CANARY.accessToken, refresh_token: CANARY.refresh, expires_in: 36000, token_type: 'bearer' }] }));
  });
  h.provider.on('GET /v1.0/users', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'graph-req-1', 'set-cookie': `x=${CANARY.cookie}` });
    res.end('{"value":[]}');
  });
});
afterAll(() => h.close());

type Line = Record<string, unknown>;

/** The file's lines once `awaited` holds for them (events reach it in batches, FLUSH_MS apart). */
async function linesOf(awaited: (lines: Line[]) => boolean, what: string): Promise<Line[]> {
  await until(() => awaited(auditFile(logFile)), 3_000, what);
  return auditFile(logFile);
}

describe('audit events', () => {
  it('logs a token call with what a reviewer needs, and a fingerprint that tags the API calls using the token', async () => {
    const form = `client_id=app-123&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&client_secret=${CANARY.clientSecret}&grant_type=client_credentials&client_assertion=${CANARY.assertion}`;
    const token = await viaProxy(h, `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`, { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(token.status).toBe(200);
    const api = await viaProxy(h, 'https://graph.microsoft.com/v1.0/users?$top=999', { headers: { authorization: `Bearer ${CANARY.accessToken}` } });
    expect(api.status).toBe(200);
    const lines = await linesOf((ls) => ls.some((l) => l['endpoint'] === 'entra.token') && ls.some((l) => l['endpoint'] === 'graph.users.list'), 'the token and API calls are logged');
    const tokenLine = lines.find((l) => l['endpoint'] === 'entra.token')!;
    expect(tokenLine).toMatchObject({
      event: 'request',
      decision: 'allow',
      code: 'ALLOWED',
      provider: 'entra-id',
      kind: 'token',
      method: 'POST',
      status: 200,
      bytesIn: Buffer.byteLength(form),
      template: 'https://login.microsoftonline.com/{directoryTenantId}/oauth2/v2.0/token',
      upstream: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      response: { 'content-type': 'application/json; charset=utf-8', 'client-request-id': 'crid-42' },
      token: { tenant: TENANT, grantType: 'client_credentials', clientId: 'app-123', scope: 'https://graph.microsoft.com/.default', expiresIn: 3599, tokenType: 'Bearer', tokenFp: expect.stringMatching(/^[0-9a-f]{16}$/) },
    });
    const apiLine = lines.find((l) => l['endpoint'] === 'graph.users.list')!;
    expect(apiLine['tokenFp']).toBe((tokenLine['token'] as { tokenFp: string }).tokenFp);
    expect(apiLine['response']).toEqual({ 'content-type': 'application/json', 'request-id': 'graph-req-1' });
  });

  it('logs a failed token call with its error code, AADSTS numbers and trace IDs', async () => {
    await viaProxy(h, `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`, {
      method: 'POST',
      body: `grant_type=refresh_token&client_id=app-123&refresh_token=${CANARY.refresh}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const refreshed = (l: Line) => l['endpoint'] === 'entra.token' && (l['token'] as { clientId?: string; grantType?: string })?.grantType === 'refresh_token' && (l['token'] as { clientId?: string }).clientId === 'app-123';
    const line = (await linesOf((ls) => ls.some(refreshed), 'the refresh_token call is logged')).filter(refreshed).at(-1)!;
    expect(line).toMatchObject({ status: 400, token: { grantType: 'refresh_token', error: 'invalid_grant', errorCodes: [70000], traceId: 'trace-0001', correlationId: 'corr-0001' } });
  });

  it('reads a token response the client asked to be compressed, and passes it on compressed', async () => {
    const r = await viaProxy(h, `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`, {
      method: 'POST',
      body: `grant_type=refresh_token&client_id=app-gzip&refresh_token=${CANARY.refresh}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'accept-encoding': 'gzip,deflate' },
    });
    expect(r.headers['content-encoding']).toBe('gzip');
    const gzipped = (l: Line) => l['endpoint'] === 'entra.token' && (l['token'] as { clientId?: string })?.clientId === 'app-gzip';
    const line = (await linesOf((ls) => ls.some(gzipped), 'the compressed token call is logged')).filter(gzipped).at(-1)!;
    expect(line).toMatchObject({ status: 400, response: { 'content-encoding': 'gzip' }, token: { error: 'invalid_grant', errorCodes: [70000], traceId: 'trace-0001' } });
  });

  it('logs denials, CONNECTs and upstream failures with their codes', async () => {
    await viaProxy(h, 'https://graph.microsoft.com/v1.0/users/u1/drive');
    const { socket } = await openConnect(h.run.address.port, 'evil.example.com:443');
    socket.destroy();
    const lines = await linesOf((ls) => ls.some((l) => l['code'] === 'PATH_NOT_ALLOWED') && ls.some((l) => l['code'] === 'HOST_NOT_ALLOWED'), 'the denial and the refused CONNECT are logged');
    expect(lines.find((l) => l['code'] === 'PATH_NOT_ALLOWED')).toMatchObject({ event: 'request', decision: 'deny', status: 403, url: 'https://graph.microsoft.com/v1.0/users/u1/drive' });
    expect(lines.find((l) => l['code'] === 'HOST_NOT_ALLOWED')).toMatchObject({
      event: 'connect',
      decision: 'deny',
      status: 403,
      url: 'evil.example.com:443',
      reason: expect.stringMatching(/^no enabled provider has endpoints on evil\.example\.com/),
    });
  });

  it('writes the events judged by the old policy before the line that says the policy was reloaded', async () => {
    const before = await viaProxy(h, 'https://graph.microsoft.com/v1.0/groups?$top=7');
    expect(before.status).toBe(200);
    expect(h.run.reload().ok).toBe(true);
    const lines = await linesOf((ls) => ls.some((l) => l['msg'] === 'policy reloaded' && ls.some((e) => e['url'] === 'https://graph.microsoft.com/v1.0/groups?$top=7')), 'the call and the reload are logged');
    const event = lines.findIndex((l) => l['url'] === 'https://graph.microsoft.com/v1.0/groups?$top=7');
    const reloaded = lines.findLastIndex((l) => l['msg'] === 'policy reloaded');
    expect(event).toBeGreaterThanOrEqual(0);
    expect(reloaded).toBeGreaterThan(event);
  });

  it('writes the same lines to stdout and to the file', async () => {
    const events = (lines: Line[]) => lines.filter((l) => l['event']);
    const stdoutLines = () => stdoutWrites.join('').trim().split('\n').map((l) => JSON.parse(l) as Line);
    const file = await linesOf((ls) => events(ls).length === events(stdoutLines()).length, 'the file has caught up with stdout');
    const out = stdoutLines();
    expect(out.filter((l) => l['event']).map((l) => l['id'])).toEqual(file.filter((l) => l['event']).map((l) => l['id']));
  });
});

describe('debug-only fields', () => {
  it('collects request header names only when the debug log will write them', async () => {
    const seen: Outcome[] = [];
    const onOutcome = (o: unknown) => void seen.push(o as Outcome);
    subscribe(OUTCOME_CHANNEL.name, onOutcome);
    const info = await startHarness();
    try {
      await viaProxy(info, 'https://graph.microsoft.com/v1.0/users');
      await viaProxy(h, 'https://graph.microsoft.com/v1.0/users');
    } finally {
      unsubscribe(OUTCOME_CHANNEL.name, onOutcome);
      await info.close();
    }
    const requests = seen.filter((o) => o.kind === 'request');
    expect(requests.map((o) => o.requestHeaderNames === undefined)).toEqual([true, false]);
    expect(requests[1]!.requestHeaderNames).toContain('host');
  });
});

describe('no secret reaches a log, at any level', () => {
  it('keeps every canary out of the file and stdout (debug level on)', async () => {
    // Request headers providers use for credentials.
    for (const [name, value] of [
      ['authorization', `Bearer ${CANARY.bearer}`],
      ['authorization', `SSWS ${CANARY.ssws}`],
      ['authorization', `Basic ${Buffer.from(`app:${CANARY.basic}`).toString('base64')}`],
      ['authorization', `client_id:app, client_secret:${CANARY.onelogin}`],
      ['authorization', `DPoP ${CANARY.bearer}`],
      ['dpop', CANARY.dpop],
      ['cookie', `session=${CANARY.cookie}`],
    ] as const) {
      await viaProxy(h, 'https://acme.okta.com/api/v1/users?limit=200', { headers: { [name]: value } });
    }
    // Query parameters and userinfo.
    await viaProxy(h, `https://www.googleapis.com/admin/directory/v1/users?customer=my_customer&access_token=${CANARY.query}&key=${CANARY.googleKey}`);
    await viaProxy(h, `https://graph.microsoft.com/v1.0/users/u1/drive?oauth_token=${CANARY.query}`);
    // Token request bodies: form and JSON, every secret field.
    await viaProxy(h, 'https://sso.example.org/auth/realms/staff/protocol/openid-connect/token', {
      method: 'POST',
      body: `grant_type=password&client_id=c&client_secret=${CANARY.clientSecret}&username=u&password=${CANARY.password}&code=${CANARY.code}&client_assertion=${CANARY.assertion}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    await viaProxy(h, 'https://www.googleapis.com/oauth2/v4/token', {
      method: 'POST',
      body: `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=${CANARY.assertion}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    await viaProxy(h, 'https://acme.onelogin.com/auth/oauth2/v2/token', {
      method: 'POST',
      body: JSON.stringify({ grant_type: 'refresh_token', access_token: CANARY.accessToken, refresh_token: CANARY.refresh }),
      headers: { 'content-type': 'application/json', authorization: `client_id:app, client_secret:${CANARY.onelogin}` },
    });
    // Proxy credentials on the CONNECT, and a secret in a Connection-listed header.
    const { socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
    const tls = await tlsOver(socket, 'graph.microsoft.com', h.gatewayCaPem);
    tls.write(`GET /v1.0/groups HTTP/1.1\r\nHost: graph.microsoft.com\r\nProxy-Authorization: Basic ${CANARY.proxyAuth}\r\nConnection: x-secret\r\nX-Secret: ${CANARY.bearer}\r\n\r\n`);
    await readUntil(tls, completeResponse);
    tls.destroy();

    await linesOf((ls) => ls.some((l) => l['url'] === 'https://graph.microsoft.com/v1.0/groups' && l['event'] === 'request'), 'the in-tunnel request is logged');
    const everything = `${readFileSync(logFile, 'utf8')}\n${stdoutWrites.join('')}\n${h.notes.join('\n')}`;
    expect(everything).toContain('request header names');
    for (const [name, canary] of Object.entries(CANARY)) {
      expect(everything.includes(canary), `${name} canary found in the log`).toBe(false);
      expect(everything.includes(Buffer.from(canary).toString('base64')), `${name} canary (base64) found in the log`).toBe(false);
    }
    expect(everything).toContain('[REDACTED]');
  });
});
