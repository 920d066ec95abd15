import { describe, expect, it } from 'vitest';
import { cefMessage, octetCounted, severityOf, syslogMessage, type AuditEntry, type SyslogIdentity } from '../../../src/audit/syslog-format.js';

const identity: SyslogIdentity = { format: 'rfc5424', facility: 16, hostname: 'gw01.example', procId: '4242', enterpriseNumber: 32473, version: '0.1.0' };
const TIME = '2026-12-02T14:30:00.123Z';

function entry(fields: Record<string, unknown>, level = 30): AuditEntry {
  return { level, time: TIME, fields };
}

const denied = entry({
  event: 'request',
  id: '243b731a-fb88-4e99-9782-8d6267dce7cf',
  client: '10.20.0.15',
  decision: 'deny',
  code: 'PATH_NOT_ALLOWED',
  mode: 'enforce',
  method: 'GET',
  url: 'https://graph.microsoft.com/v1.0/users/x/drive?access_token=[REDACTED]',
  host: 'graph.microsoft.com',
  provider: 'entra-id',
  tls: 'intercept',
  status: 403,
  durationMs: 4.66,
  reason: 'no entra-id endpoint continues /v1.0/users/x with "drive"',
});

describe('RFC 5424 messages', () => {
  it('carries PRI from facility and severity, the header fields, the stable fields as SD and the audit line as MSG', () => {
    const msg = syslogMessage(denied, identity);
    // local0 (16) * 8 + warning (4) = 132 (RFC 5424 §6.2.1)
    expect(msg.startsWith(`<132>1 ${TIME} gw01.example idp-egress 4242 request [audit@32473 id="243b731a-fb88-4e99-9782-8d6267dce7cf" event="request" decision="deny" code="PATH_NOT_ALLOWED" mode="enforce" provider="entra-id" client="10.20.0.15" host="graph.microsoft.com" method="GET" status="403" tls="intercept"] {`)).toBe(true);
    const json = msg.slice(msg.indexOf('] {') + 2);
    expect(JSON.parse(json)).toEqual({ level: 30, time: TIME, ...denied.fields });
  });

  it('gives allowed calls info, reports notice, upstream failures err, and gateway lines their pino level', () => {
    expect(severityOf(entry({ event: 'request', decision: 'allow', code: 'ALLOWED' }))).toBe(6);
    expect(severityOf(entry({ event: 'request', decision: 'would_deny', code: 'PATH_NOT_ALLOWED' }))).toBe(5);
    expect(severityOf(entry({ event: 'request', decision: 'allow', code: 'UPSTREAM_TIMEOUT' }))).toBe(3);
    expect(severityOf(entry({ msg: 'reload refused' }, 50))).toBe(3);
    expect(severityOf(entry({ msg: 'policy reloaded' }, 30))).toBe(6);
    expect(syslogMessage(entry({ msg: 'policy reloaded', endpoints: 3 }), identity)).toBe(`<134>1 ${TIME} gw01.example idp-egress 4242 gateway - {"level":30,"time":"${TIME}","msg":"policy reloaded","endpoints":3}`);
  });

  it('escapes ", \\ and ] in SD values and nothing else (§6.3.3)', () => {
    const msg = syslogMessage(entry({ event: 'connection', client: 'a"b\\c]d[e', decision: 'deny', code: 'BAD_REQUEST' }), identity);
    expect(msg).toContain('client="a\\"b\\\\c\\]d[e"');
  });

  it('writes MSG as pure ASCII (no BOM needed, §6.4) that parses back to the same text', () => {
    const msg = syslogMessage(entry({ event: 'request', decision: 'deny', code: 'HOST_NOT_ALLOWED', url: 'https://bücher.example/ß' }), identity);
    expect(/^[\x20-\x7e]*$/.test(msg)).toBe(true);
    expect((JSON.parse(msg.slice(msg.indexOf('{'))) as { url: string }).url).toBe('https://bücher.example/ß');
  });

  it('keeps header fields printable ASCII without spaces, NILVALUE when nothing is left', () => {
    const msg = syslogMessage(entry({ event: 'request', decision: 'allow', code: 'ALLOWED' }), { ...identity, hostname: 'my host', procId: '' });
    expect(msg.split(' ').slice(2, 5)).toEqual(['myhost', 'idp-egress', '-']);
  });

  it('frames by octet counting, in bytes not characters (RFC 6587 §3.4.1)', () => {
    const framed = octetCounted('é\nx');
    expect(framed.toString('utf8')).toBe('4 é\nx');
  });
});

describe('CEF messages', () => {
  const cef = { ...identity, format: 'cef' as const };

  it('puts CEF after an RFC 5424 header with no SD, with the code as class id and the fields in standard keys', () => {
    const msg = syslogMessage({ ...denied, fields: { ...denied.fields, upstream: '20.190.160.1:443', bytesIn: 0, bytesOut: 210 } }, cef);
    expect(msg.startsWith(`<132>1 ${TIME} gw01.example idp-egress 4242 request - CEF:0|idp-egress|idp-egress|0.1.0|request:PATH_NOT_ALLOWED|request blocked|6|`)).toBe(true);
    const ext = msg.slice(msg.indexOf('|6|') + 3);
    expect(ext).toContain(`rt=${Date.parse(TIME)} externalId=243b731a-fb88-4e99-9782-8d6267dce7cf act=blocked src=10.20.0.15 dhost=graph.microsoft.com dst=20.190.160.1 dpt=443 requestMethod=GET `);
    expect(ext).toContain('request=https://graph.microsoft.com/v1.0/users/x/drive?access_token\\=[REDACTED] app=HTTPS proto=TCP in=0 out=210 outcome=failure');
    expect(ext).toContain('cn1Label=httpStatus cn1=403 cn2Label=durationMs cn2=5 cs1Label=provider cs1=entra-id');
    expect(ext).toContain('cs3Label=code cs3=PATH_NOT_ALLOWED cs4Label=mode cs4=enforce cs5Label=tls cs5=intercept dvchost=gw01.example');
  });

  it('maps decisions to act and outcome', () => {
    const act = (fields: Record<string, unknown>) => /act=(\S+)/.exec(cefMessage(entry(fields), cef))?.[1];
    expect(act({ event: 'request', decision: 'allow', code: 'ALLOWED' })).toBe('allowed');
    expect(act({ event: 'request', decision: 'would_deny', code: 'PATH_NOT_ALLOWED' })).toBe('reported');
    expect(act({ event: 'connect', decision: 'deny', code: 'HOST_NOT_ALLOWED' })).toBe('blocked');
    expect(cefMessage(entry({ event: 'request', decision: 'allow', code: 'UPSTREAM_TIMEOUT' }), cef)).toContain('outcome=failure');
    expect(cefMessage(entry({ event: 'request', decision: 'allow', code: 'ALLOWED' }), cef)).toContain('outcome=success');
  });

  it('escapes the header (| and \\) and extension values (=, \\, line breaks), leaving | alone in values', () => {
    const msg = cefMessage(entry({ msg: 'a|b\\c', detail: 'x' }), { ...cef, version: '1|2' });
    expect(msg.startsWith('CEF:0|idp-egress|idp-egress|1\\|2|gateway|a\\|b\\\\c|2|')).toBe(true);
    const ext = cefMessage(entry({ event: 'request', decision: 'deny', code: 'BAD_REQUEST', reason: 'a=b\\c|d\r\ne' }), cef);
    expect(ext).toContain('reason=a\\=b\\\\c|d\\r\\ne');
  });

  it('puts an IPv6 client and upstream in the labelled IPv6 keys, not src and dst', () => {
    const msg = cefMessage(entry({ event: 'request', decision: 'allow', code: 'ALLOWED', client: '::1', upstream: '[2603:1030::5]:443' }), cef);
    expect(msg).toContain('c6a2Label=Source IPv6 Address c6a2=::1');
    expect(msg).toContain('c6a3Label=Destination IPv6 Address c6a3=2603:1030::5 dpt=443');
    expect(msg).not.toMatch(/ src=| dst=/);
  });

  it('carries the token call facts in cs6 and the summary count in cnt', () => {
    const token = cefMessage(entry({ event: 'request', decision: 'allow', code: 'ALLOWED', token: { grantType: 'client_credentials', error: 'invalid_client', errorCodes: [7000215] } }), cef);
    expect(token).toContain('cs6Label=token cs6={"grantType":"client_credentials","error":"invalid_client","errorCodes":[7000215]}');
    const summary = cefMessage(entry({ event: 'summary', decision: 'deny', code: 'CLIENT_NOT_ALLOWED', count: 120, client: '10.0.0.9' }), cef);
    expect(summary).toContain('cnt=120');
    expect(summary).toContain('|summary:CLIENT_NOT_ALLOWED|summary blocked|');
  });

  it('cuts a value at the key\'s length in the spec', () => {
    const msg = cefMessage(entry({ event: 'request', decision: 'deny', code: 'BAD_REQUEST', url: `https://x.example/${'a'.repeat(2000)}` }), cef);
    expect(/request=(\S+)/.exec(msg)![1]!.length).toBe(1023);
  });
});
