import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuditLines } from '../../../src/audit/audit-line.js';
import { auditEvent } from '../../../src/audit/audit-log.js';
import type { Outcome } from '../../../src/audit/outcome.js';
import type { Decision } from '../../../src/policy/decide.js';

// Every kind of string a hostile client can put where the audit quotes it: quotes, backslashes,
// control characters, U+2028, lone surrogates, astral characters.
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', '"', '\\', '\u0000', '\u001f', '\u007f', '\u2028', '\ud800', '\udc00x', '\ud83d\ude00', 'a"b\\c\nd', 'okta'),
  fc.string({ maxLength: 300 }),
);
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const number = fc.oneof(fc.nat(), fc.double(), fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 1e21, 0.1 + 0.2));

const decision: fc.Arbitrary<Decision> = fc.record({
  action: fc.constantFrom('allow', 'deny'),
  code: fc.constantFrom('ALLOWED', 'PATH_NOT_ALLOWED', 'HOST_NOT_ALLOWED'),
  reason: text,
  mode: fc.constantFrom('enforce', 'observe'),
  host: maybe(fc.constantFrom('acme.okta.com', 'graph.microsoft.com', 'x.example')),
  port: maybe(fc.constantFrom(443, 8443)),
  provider: maybe(fc.constantFrom('okta', 'entra-id')),
  endpoint: maybe(fc.oneof(fc.constantFrom('okta.users.list', 'graph.users'), text)),
  site: maybe(text),
  kind: maybe(fc.constantFrom('token', 'api')),
  // Few templates, so that kept decision fields meet other values under the same template.
  template: maybe(fc.constantFrom('https://acme.okta.com/api/v1/users', 'https://{tenant}.example/x')),
  tls: maybe(fc.constantFrom('intercept', 'tunnel')),
  closest: fc.constant(undefined),
}) as fc.Arbitrary<Decision>;

const outcome: fc.Arbitrary<Outcome> = fc.record({
  id: fc.oneof(fc.uuid(), text),
  kind: fc.constantFrom('request', 'connect', 'tunnel', 'connection'),
  client: text,
  method: fc.oneof(fc.constantFrom('GET', 'POST', 'CONNECT'), text),
  url: text,
  code: fc.constantFrom('ALLOWED', 'PATH_NOT_ALLOWED', 'UPSTREAM_RESET'),
  decision: maybe(decision),
  enforced: fc.boolean(),
  status: maybe(fc.integer({ min: 100, max: 599 })),
  tls: maybe(fc.constantFrom('intercept', 'tunnel')),
  reason: text,
  // Durations as measured (fractions of a ms, up to days), and any double besides.
  durationMs: fc.oneof(number, fc.double({ min: 0, max: 1e11, noNaN: true }), fc.integer({ min: 0, max: 1e13 }).map((r) => r / 100)),
  time: fc.nat(),
  bytesIn: maybe(number),
  bytesOut: maybe(number),
  upstream: maybe(text),
  responseHeaders: maybe(fc.dictionary(text, text, { maxKeys: 3 })),
  token: maybe(fc.record({ grantType: text, scopes: fc.array(text, { maxLength: 3 }) })),
  presentedTokenFp: maybe(text),
  requestHeaderNames: fc.constant(undefined),
}) as fc.Arbitrary<Outcome>;

const TIME = '2026-12-03T21:00:00.000Z';
/** The line the audit wrote before AuditLines: the event's JSON.stringify after level and time. */
const stringified = (o: Outcome) => `{"level":30,"time":"${TIME}",${JSON.stringify(auditEvent(o)).slice(1)}\n`;

describe('audit lines', () => {
  it('are JSON.stringify of the audit event, byte for byte, for any outcome, line after line', () => {
    // One writer across runs, so that values and decision fields it kept meet new ones.
    const lines = new AuditLines();
    fc.assert(
      fc.property(fc.array(outcome, { minLength: 1, maxLength: 8 }), (outcomes) => {
        for (const o of outcomes) expect(lines.line(30, TIME, o)).toBe(stringified(o));
      }),
      { numRuns: 600 },
    );
  });

  it('write every duration of up to 1,000 ms to the hundredth as JSON.stringify does', () => {
    const lines = new AuditLines();
    const base = fc.sample(outcome, { numRuns: 1, seed: 11 })[0]!;
    const differing: number[] = [];
    for (let r = 0; r <= 100_000; r++) {
      // A measured duration lands anywhere near r hundredths, either side of the rounding.
      for (const ms of [r / 100, (r - 0.5) / 100, (r + 0.49) / 100]) {
        const o = { ...base, durationMs: ms };
        if (lines.line(30, TIME, o) !== stringified(o)) differing.push(ms);
      }
    }
    expect(differing).toEqual([]);
  });

  it('still are after the kept values start over, and parse back to level, time and the event', () => {
    const lines = new AuditLines();
    const base = fc.sample(outcome, { numRuns: 1, seed: 7 })[0]!;
    // More distinct values than are kept, then the first ones again.
    for (let i = 0; i < 2500; i++) {
      const o = { ...base, client: `10.0.${i % 1300}.1`, reason: `reason ${i % 1300}` };
      expect(lines.line(30, TIME, o)).toBe(stringified(o));
    }
    expect(JSON.parse(lines.line(30, TIME, base))).toEqual({ level: 30, time: TIME, ...JSON.parse(JSON.stringify(auditEvent(base))) });
  });
});
