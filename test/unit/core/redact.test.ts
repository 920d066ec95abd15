import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { redact, redactEchoes, redactUrl, SECRET_QUERY_PARAMS } from '../../../src/core/redact.js';
import { tenantOfTokenCall, TokenFingerprinter, tokenRequestAudit, tokenResponseAudit } from '../../../src/audit/token-call.js';

describe('URL redaction', () => {
  const graph = new Set(['$top', '$select']);
  it.each([
    // Only the names a pack marks as safe keep their values; cursors and unknown names do not.
    ['/v1.0/users?$top=999&$skiptoken=abc', '/v1.0/users?$top=999&$skiptoken=[REDACTED]'],
    ['/x?$TOP=5&$Select=id', '/x?$TOP=5&$Select=id'],
    ['/x?access_token=s&$top=5', '/x?access_token=[REDACTED]&$top=5'],
    ['/x?%24top=5', '/x?%24top=5'],
    ['/x?id_token_hint=a&subject_token=b&SAMLResponse=c&$skiptoken=d', '/x?id_token_hint=[REDACTED]&subject_token=[REDACTED]&SAMLResponse=[REDACTED]&$skiptoken=[REDACTED]'],
    // A name no list knows may be a value sent in a name's place.
    ['/x?unknown=d&eyJhbGciOiJub25lIn0=1', '/x?[REDACTED]=[REDACTED]&[REDACTED]=[REDACTED]'],
    // A bare item or a name that does not look like one may be a value.
    ['/x?eyJhbGciOiJub25lIn0', '/x?[REDACTED]'],
    [`/x?${'n'.repeat(65)}=1`, '/x?[REDACTED]=[REDACTED]'],
    ['/x?a b=1', '/x?[REDACTED]=[REDACTED]'],
    ['/x?$top', '/x?$top'],
    ['/x?q=&&$top=1', '/x?q=&&$top=1'],
    ['/no-query', '/no-query'],
  ])('%s', (target, expected) => {
    expect(redactUrl(target, graph)).toBe(expected);
  });

  it('keeps no value without a pack list, in every request form', () => {
    expect(redactUrl('https://graph.microsoft.com/v1.0/users?$top=5&access_token=2')).toBe('https://graph.microsoft.com/v1.0/users?[REDACTED]=[REDACTED]&access_token=[REDACTED]');
    expect(redactUrl('/v1.0/users?access_token=s')).toBe('/v1.0/users?access_token=[REDACTED]');
    expect(redactUrl('not-a-url?secret=s')).toBe('not-a-url?secret=[REDACTED]');
  });

  it('drops userinfo and fragments from absolute URLs, and userinfo from CONNECT authorities', () => {
    expect(redactUrl('https://user:pw@graph.microsoft.com/v1.0/users?access_token=x#frag')).toBe('https://[REDACTED]@graph.microsoft.com/v1.0/users?access_token=[REDACTED]');
    expect(redactUrl('graph.microsoft.com:443')).toBe('graph.microsoft.com:443');
    expect(redactUrl('user:pw@graph.microsoft.com:443')).toBe('[REDACTED]@graph.microsoft.com:443');
    expect(redactUrl('https://graph.microsoft.com/v1.0/users/alice@contoso.com')).toBe('https://graph.microsoft.com/v1.0/users/alice@contoso.com');
  });

  it('replaces path parameters: the policy refuses them, and a servlet session rides in one', () => {
    // Known credential names stay readable; anything else, name and all, goes (a value in a name's place).
    expect(redactUrl('https://graph.microsoft.com/v1.0/users;jsessionid=S3CR3T/manager', graph)).toBe('https://graph.microsoft.com/v1.0/users;jsessionid=[REDACTED]/manager');
    expect(redactUrl('/v1.0/users;token=a;x=b;eyJhbGciOiJub25lIn0/u1?$top=5', graph)).toBe('/v1.0/users;token=[REDACTED];[REDACTED]=[REDACTED];[REDACTED]/u1?$top=5');
    // A pack's safe query names are query names only: a path parameter of the same name still goes.
    expect(redactUrl('/v1.0/users;$top=5', graph)).toBe('/v1.0/users;[REDACTED]=[REDACTED]');
    // Encoded, as the policy reads it too: a server that decodes before it splits sees a parameter.
    expect(redactUrl('/v1.0/users%3Bjsessionid=S3CR3T/u1%3bx=y')).toBe('/v1.0/users%3Bjsessionid=[REDACTED]/u1%3b[REDACTED]=[REDACTED]');
    // Empty parameters hide nothing, and a ";" in the query is the query's.
    expect(redactUrl('/v1.0/users;;/u1')).toBe('/v1.0/users;;/u1');
    expect(redactUrl('/v1.0/users?$filter=a;b', graph)).toBe('/v1.0/users?$filter=[REDACTED]');
    const r = redact('/v1.0/users;jsessionid=S3CR3T/manager');
    expect(r.removed).toEqual(['S3CR3T']);
    expect(redactEchoes('segment "users;jsessionid=S3CR3T" is ambiguous', r.removed)).toBe('segment "users;jsessionid=[REDACTED]" is ambiguous');
  });

  it('cleans a text that echoes the request of every value it removed, as sent and as JSON quotes it', () => {
    const r = redact('/v1.0/users?access_token=CANARY"1&x=CANARY%202');
    expect(redactEchoes('target "/v1.0/users?access_token=CANARY\\"1&x=CANARY%202" is bad; CANARY 2', r.removed)).toBe('target "/v1.0/users?access_token=[REDACTED]&x=[REDACTED]" is bad; [REDACTED]');
  });

  it('lets no pack mark a credential as safe to log', () => {
    for (const name of ['access_token', 'Client_Secret', 'SAMLResponse', 'code', 'state', 'JSESSIONID']) expect(SECRET_QUERY_PARAMS.has(name.toLowerCase())).toBe(true);
  });
});

describe('token-call audit fields', () => {
  const fp = new TokenFingerprinter(Buffer.alloc(32, 7));

  it('gives a token the same fingerprint every time, and another token another, whatever the order', () => {
    const other = new TokenFingerprinter(Buffer.alloc(32, 7));
    const a = fp.of('token-a');
    const b = fp.of('token-b');
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(b).not.toBe(a);
    expect([fp.of('token-a'), fp.of('token-a'), fp.of('token-b'), fp.of('token-a')]).toEqual([a, a, b, a]);
    // The fingerprint is the keyed HMAC, not something remembered: a fresh fingerprinter with the same key agrees.
    expect([other.of('token-b'), other.of('token-a')]).toEqual([b, a]);
    expect(fp.ofAuthorization('Bearer token-a')).toBe(a);
  });

  it('reads grant type, client id and scope from a form body and nothing else', () => {
    const body = Buffer.from('client_id=app&scope=a%20b&client_secret=S&grant_type=client_credentials&client_assertion=A&refresh_token=R&code=C&password=P');
    expect(tokenRequestAudit('application/x-www-form-urlencoded', body)).toEqual({ grantType: 'client_credentials', clientId: 'app', scope: 'a b' });
  });

  it('reads a JSON body (OneLogin) the same way', () => {
    expect(tokenRequestAudit('application/json', Buffer.from('{"grant_type":"refresh_token","access_token":"A","refresh_token":"R"}'))).toEqual({ grantType: 'refresh_token' });
  });

  it('keeps expiry, type, errors and trace IDs of a response, and only a fingerprint of the token', () => {
    const ok = tokenResponseAudit('application/json', Buffer.from('{"token_type":"Bearer","expires_in":3599,"access_token":"T","refresh_token":"R","id_token":"I"}'), fp);
    expect(ok).toEqual({ tokenType: 'Bearer', expiresIn: 3599, tokenFp: fp.of('T') });
    const failed = tokenResponseAudit('application/json', Buffer.from('{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret","error_codes":[7000215],"trace_id":"t","correlation_id":"c"}'), fp);
    expect(failed).toEqual({ error: 'invalid_client', errorCodes: [7000215], traceId: 't', correlationId: 'c' });
    const onelogin = tokenResponseAudit('application/json', Buffer.from('{"status":{"code":200},"data":[{"access_token":"T","expires_in":36000,"token_type":"bearer"}]}'), fp);
    expect(onelogin).toEqual({ tokenType: 'bearer', expiresIn: 36000, tokenFp: fp.of('T') });
  });

  it('decodes a compressed response (gzip, zlib or raw deflate, br), stops short of a bomb, and skips unknown codings', () => {
    const json = '{"error":"invalid_client","error_codes":[7000215],"trace_id":"t"}';
    const expected = { error: 'invalid_client', errorCodes: [7000215], traceId: 't' };
    expect(tokenResponseAudit('application/json', gzipSync(json), fp, 'gzip')).toEqual(expected);
    expect(tokenResponseAudit('application/json', deflateSync(json), fp, 'deflate')).toEqual(expected);
    expect(tokenResponseAudit('application/json', deflateRawSync(json), fp, 'Deflate')).toEqual(expected);
    expect(tokenResponseAudit('application/json', brotliCompressSync(json), fp, 'br')).toEqual(expected);
    // The audit reads a prefix: a cut stream decodes as far as it goes, without an error.
    expect(tokenResponseAudit('application/json', gzipSync(json).subarray(0, 20), fp, 'gzip')).toEqual({});
    // 10 MB of spaces before the JSON compress to ~10 KB; decoding stops at 64 KB.
    expect(tokenResponseAudit('application/json', gzipSync(' '.repeat(10 * 1024 * 1024) + json), fp, 'gzip')).toEqual({});
    expect(tokenResponseAudit('application/json', Buffer.from(json), fp, 'zstd')).toEqual({});
  });

  it('ignores bodies it cannot parse, and values that are not short printable text', () => {
    expect(tokenResponseAudit('application/json', Buffer.from('{not json'), fp)).toEqual({});
    expect(tokenRequestAudit(undefined, Buffer.from(`grant_type=${'x'.repeat(500)}&client_id=a%0Ab`))).toEqual({});
  });

  it('reads the tenant or realm a token call names from the matched template', () => {
    expect(tenantOfTokenCall('https://login.microsoftonline.com/{directoryTenantId}/oauth2/v2.0/token', '/Contoso.onmicrosoft.com/oauth2/v2.0/token')).toBe('Contoso.onmicrosoft.com');
    expect(tenantOfTokenCall('https://sso.example.org/auth/realms/{realm}/protocol/openid-connect/token', '/auth/realms/staff/protocol/openid-connect/token?x=1')).toBe('staff');
    expect(tenantOfTokenCall('https://www.googleapis.com/oauth2/v4/token', '/oauth2/v4/token')).toBeUndefined();
    expect(tenantOfTokenCall(undefined, '/x')).toBeUndefined();
  });

  it('fingerprints the bearer token an API call presents, in each scheme', () => {
    for (const header of ['Bearer T', 'bearer T', 'DPoP T', 'bearer:T']) expect(fp.ofAuthorization(header)).toBe(fp.of('T'));
    for (const header of [undefined, 'SSWS T', 'Basic VDpU', 'client_id:a, client_secret:b']) expect(fp.ofAuthorization(header)).toBeUndefined();
  });
});
