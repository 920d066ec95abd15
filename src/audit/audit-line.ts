import { outcomeDecision, type Outcome } from './outcome.js';

/** Strings up to this long are quoted once and kept; longer ones (a denial quoting a URL) each time. */
const KEPT_LENGTH = 256;
/** At most this many kept; then the store starts over, so a flood of distinct values holds ~0.5 MB. */
const KEPT_COUNT = 1024;

/** The decision's fields that follow the URL in a line, in their order. */
const AFTER_URL = ['host', 'provider', 'endpoint', 'site', 'kind', 'template'] as const;

/**
 * The decision's fields of an event (none without a decision), and their text, quoted once for
 * the values it was built from.
 */
type DecisionFields = { readonly [K in 'mode' | (typeof AFTER_URL)[number]]: string | undefined } & {
  /** `,"mode":...`, or nothing without a decision. */
  readonly modeText: string;
  /** `,"host":...` through `,"template":...`, the fields present. */
  readonly restText: string;
};

/**
 * Audit events as JSON text, the same text as JSON.stringify(auditEvent(o)) (audit-log.ts) in
 * the same field order, built without the intermediate object and without quoting again what
 * the line before quoted: an allowed call repeats its endpoint's host, provider, template and
 * reason line after line. JSON.stringify quotes every string the first time it is seen (RFC 8259
 * section 7 escaping, lone surrogates included), so the text cannot differ from it;
 * test/unit/audit/audit-line.test.ts holds it to that for any outcome. Serialising the event
 * was the audit's largest cost: ~18k instructions of the gateway's ~285k per request at
 * concurrency 1, of which this saves about half (bench:instructions, README).
 */
export class AuditLines {
  private readonly kept = new Map<string, string>();
  /** By the endpoint's template, one entry each; the hosts of a wildcard's template take turns in theirs. */
  private readonly decisions = new Map<string, DecisionFields>();

  /** One event's line as pino writes one: level and time first, then the event, then a newline. */
  line(level: number, time: string, o: Outcome): string {
    return `{"level":${level},"time":"${time}",${this.fields(o)}}\n`;
  }

  private fields(o: Outcome): string {
    const d = this.decisionFields(o);
    let t = `"event":${this.quote(o.kind)},"id":${JSON.stringify(o.id)},"client":${this.quote(o.client)},"decision":"${outcomeDecision(o)}","code":${this.quote(o.code)}${d.modeText},"method":${this.quote(o.method)},"url":${JSON.stringify(o.url)}${d.restText}`;
    if (o.tls !== undefined) t += `,"tls":${this.quote(o.tls)}`;
    if (o.status !== undefined) t += `,"status":${number(o.status)}`;
    if (o.bytesIn !== undefined) t += `,"bytesIn":${number(o.bytesIn)}`;
    if (o.bytesOut !== undefined) t += `,"bytesOut":${number(o.bytesOut)}`;
    t += `,"durationMs":${hundredths(o.durationMs)}`;
    if (o.upstream !== undefined) t += `,"upstream":${this.quote(o.upstream)}`;
    t += `,"reason":${this.quote(o.reason)}`;
    if (o.responseHeaders && Object.keys(o.responseHeaders).length > 0) t += `,"response":${JSON.stringify(o.responseHeaders)}`;
    if (o.token !== undefined) t += `,"token":${JSON.stringify(o.token)}`;
    if (o.presentedTokenFp !== undefined) t += `,"tokenFp":${JSON.stringify(o.presentedTokenFp)}`;
    return t;
  }

  /** A JSON string literal, kept for the next line that has the same value. */
  private quote(s: string): string {
    let q = this.kept.get(s);
    if (q === undefined) {
      q = JSON.stringify(s);
      if (s.length <= KEPT_LENGTH) {
        if (this.kept.size >= KEPT_COUNT) this.kept.clear();
        this.kept.set(s, q);
      }
    }
    return q;
  }

  /**
   * Kept by template and used only when every field is the one it was built from (a wildcard
   * route's template serves many hosts; a reload may change a mode): compared, not trusted.
   */
  private decisionFields(o: Outcome): DecisionFields {
    const d = o.decision;
    const key = d?.template;
    const seen = key === undefined ? undefined : this.decisions.get(key);
    if (
      seen !== undefined &&
      seen.mode === d!.mode &&
      seen.host === d!.host &&
      seen.provider === d!.provider &&
      seen.endpoint === d!.endpoint &&
      seen.site === d!.site &&
      seen.kind === d!.kind &&
      seen.template === d!.template
    ) {
      return seen;
    }
    const made = this.made(o);
    if (key !== undefined) {
      if (this.decisions.size >= KEPT_COUNT) this.decisions.clear();
      this.decisions.set(key, made);
    }
    return made;
  }

  private made(o: Outcome): DecisionFields {
    const d = o.decision;
    const made = { mode: d?.mode, modeText: d?.mode === undefined ? '' : `,"mode":${this.quote(d.mode)}`, restText: '' } as Writable<DecisionFields>;
    for (const field of AFTER_URL) {
      const value = d?.[field];
      made[field] = value;
      if (value !== undefined) made.restText += `,"${field}":${this.quote(value)}`;
    }
    return made;
  }
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** A number as JSON.stringify writes it: null for what JSON cannot hold (NaN, Infinity). */
function number(n: number): string {
  return Number.isFinite(n) ? `${n}` : 'null';
}

/** 1e10 ms (115 days): far below it a double's spacing is under 1e-5, so r / 100 reads back only from r's own decimal. */
const EXACT_HUNDREDTHS = 1e12;

/**
 * `Math.round(ms * 100) / 100` as JSON.stringify writes it, from integers. Number::toString
 * (ECMA-262 6.1.6.1.20) writes the shortest decimal that reads back as the double; for r / 100
 * that is r's digits with the point two places in, trailing zeros dropped, since every other
 * decimal of two places or fewer is 0.01 away. Converting the double instead took ~0.9 us a line
 * at concurrency 1 (a CPU profile under the anchors harness: V8's shortest-digits search).
 */
function hundredths(ms: number): string {
  const r = Math.round(ms * 100);
  if (!(r >= 0 && r < EXACT_HUNDREDTHS)) return number(r / 100);
  const whole = Math.floor(r / 100);
  const cents = r - whole * 100;
  if (cents === 0) return `${whole}`;
  if (cents % 10 === 0) return `${whole}.${cents / 10}`;
  return `${whole}.${cents < 10 ? '0' : ''}${cents}`;
}
