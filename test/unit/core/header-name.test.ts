import { describe, expect, it } from 'vitest';
import { HeaderNameTable } from '../../../src/core/header-name.js';
import { judge } from '../../../src/policy/judge.js';
import { clientResponseHeaders, upstreamRequestHeaders } from '../../../src/proxy/headers.js';
import { BOUND_SITE, policyFrom } from '../../support/policy.js';

describe('header names, classified once per spelling', () => {
  it('classifies by the lower-cased name and asks again only for a spelling it has not seen', () => {
    const asked: string[] = [];
    const table = new HeaderNameTable((lower) => (asked.push(lower), lower === 'host'));
    expect([table.of('Host'), table.of('Host'), table.of('HOST'), table.of('Accept')]).toEqual([true, true, true, false]);
    expect(asked).toEqual(['host', 'host', 'accept']);
  });

  it('holds at most its bound of spellings: past it, it starts over and still answers right', () => {
    const asked: string[] = [];
    const table = new HeaderNameTable((lower) => (asked.push(lower), lower.length), 2);
    table.of('a');
    table.of('bb');
    table.of('ccc');
    // 'a' was dropped when the third spelling came, so it is classified again.
    expect(table.of('a')).toBe(1);
    expect(asked).toEqual(['a', 'bb', 'ccc', 'a']);
  });

  it('keeps no name longer than a real one, so a client cannot make it hold much', () => {
    const asked: string[] = [];
    const table = new HeaderNameTable((lower) => (asked.push(lower), lower.length));
    const long = `X-${'A'.repeat(100)}`;
    expect([table.of(long), table.of(long)]).toEqual([102, 102]);
    expect(asked).toEqual([long.toLowerCase(), long.toLowerCase()]);
  });

  it('still refuses an override header after a flood of new spellings has cycled the table', () => {
    const policy = policyFrom(BOUND_SITE);
    const request = (name: string) =>
      judge(policy, { form: 'absolute', method: 'GET', url: 'https://graph.microsoft.com/v1.0/users', shape: { method: 'GET', httpVersion: '1.1', rawHeaders: ['Host', 'graph.microsoft.com', name, 'DELETE'] } });
    for (let i = 0; i < 3000; i++) {
      // Every spelling of the header, one per request, with unknown names between them.
      const spelling = [...'x-http-method-override'].map((c, j) => ((i >> j % 12) & 1 ? c.toUpperCase() : c)).join('');
      expect(request(spelling).decision.code, spelling).toBe('OVERRIDE_HEADER_NOT_ALLOWED');
      expect(request(`X-Unknown-${i}`).effect).toBe('allow');
    }
  });

  it('drops hop-by-hop headers and the names Connection lists in any spelling, with spaces and empty items', () => {
    const raw = ['CONNECTION', ' Keep-Alive , ,X-Trace-HOP ', 'keep-ALIVE', 'timeout=5', 'x-trace-hop', '1', 'Accept', '*/*', 'HOST', 'graph.microsoft.com'];
    expect(upstreamRequestHeaders(raw)).toEqual(['Accept', '*/*']);
    const audited: Record<string, string> = {};
    expect(clientResponseHeaders(['Request-ID', 'r-1', 'connection', 'request-id', 'Retry-After', '7'], audited)).toEqual(['Retry-After', '7']);
    expect(audited).toEqual({ 'retry-after': '7' });
  });
});
