/**
 * Audit lines as syslog messages: RFC 5424 with the JSON line as MSG, or ArcSight CEF.
 * Pure: the sender (syslog.ts) frames and moves them. docs/audit.md, "Delivery to a SIEM",
 * has the field mapping.
 */

/** One line of the audit, as the file gets it: pino level, ISO time, the fields. */
export interface AuditEntry {
  /** pino levels: 20 debug, 30 info, 40 warn, 50 error. */
  readonly level: number;
  readonly time: string;
  readonly fields: Readonly<Record<string, unknown>>;
  /** The line as the file got it, without its newline, when it was already serialised. */
  readonly json?: string;
}

export type SyslogFormat = 'rfc5424' | 'cef';

export interface SyslogIdentity {
  readonly format: SyslogFormat;
  /** RFC 5424 §6.2.1 facility number (local0 is 16). */
  readonly facility: number;
  readonly hostname: string;
  readonly procId: string;
  /** The IANA Private Enterprise Number in the SD-ID (RFC 5424 §7.2.2); 32473 is the documentation one (RFC 5612). */
  readonly enterpriseNumber: number;
  /** CEF's Device Version. */
  readonly version: string;
}

const APP_NAME = 'idp-egress';

/** The message for one audit line, unframed. */
export function syslogMessage(entry: AuditEntry, id: SyslogIdentity): string {
  return id.format === 'cef' ? rfc5424Header(entry, id, '-') + ' ' + cefMessage(entry, id) : rfc5424Message(entry, id);
}

/** RFC 6587 §3.4.1 octet counting: the byte length, a space, the message (RFC 5425 §4.3 requires it over TLS). */
export function octetCounted(message: string): Buffer {
  return Buffer.from(`${Buffer.byteLength(message, 'utf8')} ${message}`, 'utf8');
}

/** RFC 5424 §6.2.1 severities: a denial is a warning, a forwarded call that failed upstream an error. */
export function severityOf(entry: AuditEntry): number {
  const f = entry.fields;
  if (typeof f.event !== 'string') return entry.level >= 50 ? 3 : entry.level >= 40 ? 4 : entry.level <= 20 ? 7 : 6;
  if (f.decision === 'deny') return 4;
  if (f.decision === 'would_deny') return 5;
  if (f.code !== 'ALLOWED') return 3;
  return entry.level <= 20 ? 7 : 6;
}

/** The fields an SIEM filters on, in the SD element; the whole line is the MSG. */
const SD_FIELDS = ['id', 'event', 'decision', 'code', 'mode', 'provider', 'endpoint', 'site', 'kind', 'client', 'host', 'method', 'status', 'tls', 'count'] as const;

function rfc5424Message(entry: AuditEntry, id: SyslogIdentity): string {
  const params: string[] = [];
  for (const name of SD_FIELDS) {
    const value = entry.fields[name];
    if (value === undefined || value === null || value === '') continue;
    params.push(`${name}="${sdEscape(String(value))}"`);
  }
  const sd = params.length > 0 ? `[audit@${id.enterpriseNumber} ${params.join(' ')}]` : '-';
  // The line exactly as the audit file has it, with every non-ASCII character \u-escaped: pure
  // ASCII needs no BOM (RFC 5424 §6.4), and JSON parsers read it unchanged.
  const json = asciiOnly(entry.json ?? JSON.stringify({ level: entry.level, time: entry.time, ...entry.fields }));
  return `${rfc5424Header(entry, id, sd)} ${json}`;
}

function rfc5424Header(entry: AuditEntry, id: SyslogIdentity, sd: string): string {
  const pri = id.facility * 8 + severityOf(entry);
  const msgId = typeof entry.fields.event === 'string' ? entry.fields.event : 'gateway';
  return `<${pri}>1 ${entry.time} ${headerField(id.hostname, 255)} ${APP_NAME} ${headerField(id.procId, 128)} ${headerField(msgId, 32)} ${sd}`;
}

/** RFC 5424 §6: header fields are printable US-ASCII without spaces, NILVALUE when empty. */
function headerField(value: string, max: number): string {
  const printable = value.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return printable || '-';
}

/** RFC 5424 §6.3.3: inside PARAM-VALUE only '"', '\' and ']' are escaped. */
function sdEscape(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

const NON_ASCII = /[\u007f-\uffff]/;

/** JSON text with every character past ASCII as its \u escape, which JSON reads back the same. */
function asciiOnly(json: string): string {
  return NON_ASCII.test(json) ? json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : json;
}

/** CEF Device Action: what the gateway did with the call. */
const CEF_ACTION = { allow: 'allowed', deny: 'blocked', would_deny: 'reported' } as const;

/**
 * ArcSight CEF 0 ("Implementing ArcSight Common Event Format", rev. 25): a constant vendor and
 * product, the event kind and code as the class id (stable: the codes are docs/errors.md's), and
 * the fields in standard keys where CEF has one, labelled custom keys where it does not.
 */
export function cefMessage(entry: AuditEntry, id: SyslogIdentity): string {
  const f = entry.fields;
  const text = (name: string): string | undefined => (typeof f[name] === 'string' && f[name] !== '' ? (f[name] as string) : undefined);
  const num = (name: string): number | undefined => (typeof f[name] === 'number' ? (f[name] as number) : undefined);
  const event = text('event');
  const decision = text('decision') as keyof typeof CEF_ACTION | undefined;
  const code = text('code');
  const classId = event ? `${event}:${code ?? '-'}` : 'gateway';
  const name = event ? `${event} ${decision ? CEF_ACTION[decision] : ''}`.trim() : (text('msg') ?? 'gateway');
  const ext: [string, string | number | undefined][] = [
    ['rt', Date.parse(entry.time)],
    ['externalId', text('id')],
    ['act', decision ? CEF_ACTION[decision] : undefined],
    ...sourceAddress(text('client')),
    ['dhost', text('host')],
    ...destination(text('upstream')),
    ['requestMethod', text('method')],
    ['request', text('url')],
    ['app', text('url')?.startsWith('http://') ? 'HTTP' : text('url') ? 'HTTPS' : undefined],
    ['proto', event && event !== 'summary' ? 'TCP' : undefined],
    ['in', num('bytesIn')],
    ['out', num('bytesOut')],
    ['cnt', num('count')],
    ['outcome', outcomeOf(f)],
    ['reason', text('reason')],
    ['msg', event ? undefined : text('msg')],
    ['cn1Label', num('status') !== undefined ? 'httpStatus' : undefined],
    ['cn1', num('status')],
    ['cn2Label', num('durationMs') !== undefined ? 'durationMs' : undefined],
    ['cn2', num('durationMs') !== undefined ? Math.round(num('durationMs')!) : undefined],
    ['cs1Label', text('provider') && 'provider'],
    ['cs1', text('provider')],
    ['cs2Label', text('endpoint') && 'endpoint'],
    ['cs2', text('endpoint')],
    ['cs3Label', code && 'code'],
    ['cs3', code],
    ['cs4Label', text('mode') && 'mode'],
    ['cs4', text('mode')],
    ['cs5Label', text('tls') && 'tls'],
    ['cs5', text('tls')],
    ['cs6Label', tokenText(f) !== undefined ? 'token' : undefined],
    ['cs6', tokenText(f)],
    ['flexString1Label', text('site') && 'site'],
    ['flexString1', text('site')],
    ['dvchost', id.hostname],
  ];
  const extension = ext
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([key, value]) => `${key}=${typeof value === 'number' ? value : cefValue(value, CEF_MAX[key] ?? 1023)}`)
    .join(' ');
  return `CEF:0|${APP_NAME}|${APP_NAME}|${cefHeader(id.version)}|${cefHeader(classId)}|${cefHeader(name)}|${cefSeverity(entry)}|${extension}`;
}

/** The spec's lengths for the string keys used here (others: 1023). */
const CEF_MAX: Readonly<Record<string, number>> = { externalId: 40, act: 63, outcome: 63, app: 31, proto: 31, dvchost: 100, cs1: 4000, cs2: 4000, cs3: 4000, cs4: 4000, cs5: 4000, cs6: 4000, flexString1: 1023 };

/** CEF severity 0-10: allowed calls low, reports medium, denials and upstream failures high. */
function cefSeverity(entry: AuditEntry): number {
  return { 3: 7, 4: 6, 5: 4, 6: 2, 7: 1 }[severityOf(entry)] ?? 2;
}

function outcomeOf(f: AuditEntry['fields']): string | undefined {
  if (typeof f.event !== 'string' || f.event === 'summary') return undefined;
  return f.decision === 'deny' || f.code !== 'ALLOWED' ? 'failure' : 'success';
}

/** src is IPv4 by the spec; an IPv6 client goes in the labelled custom IPv6 key. */
function sourceAddress(client: string | undefined): [string, string | undefined][] {
  if (!client) return [];
  return client.includes(':') ? [['c6a2Label', 'Source IPv6 Address'], ['c6a2', client]] : [['src', client]];
}

/** The upstream as dialled, `address:port` or `[v6]:port`. */
function destination(upstream: string | undefined): [string, string | number | undefined][] {
  const m = upstream ? /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(upstream) : null;
  if (!m) return [];
  const port = Number(m[3]);
  return m[1] ? [['c6a3Label', 'Destination IPv6 Address'], ['c6a3', m[1]], ['dpt', port]] : [['dst', m[2]], ['dpt', port]];
}

/** The token call's facts (never a secret: token-call.ts keeps none) as compact JSON. */
function tokenText(f: AuditEntry['fields']): string | undefined {
  if (f.token && typeof f.token === 'object') return JSON.stringify(f.token);
  return typeof f.tokenFp === 'string' ? JSON.stringify({ tokenFp: f.tokenFp }) : undefined;
}

/** CEF header fields: '\' and '|' escaped, no line breaks. */
function cefHeader(value: string): string {
  return value.replace(/[\\|]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ');
}

/** CEF extension values: '\' and '=' escaped, line breaks as \n and \r; cut at the key's length. */
function cefValue(value: string, max: number): string {
  const cut = value.length > max ? value.slice(0, max) : value;
  return cut.replace(/[\\=]/g, (c) => `\\${c}`).replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}
