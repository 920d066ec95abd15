import { describe, expect, it } from 'vitest';
import { decisionText } from '../../../src/policy/decision-text.js';
import { failureEffect, judge } from '../../../src/policy/judge.js';
import { BOUND_SITE, policyFrom, TENANT } from '../../support/policy.js';

const enforce = policyFrom(BOUND_SITE);
const observe = policyFrom(`mode: observe\n${BOUND_SITE}`);
const shape = (rawHeaders: string[], method = 'GET') => ({ method, httpVersion: '1.1', rawHeaders });
const HOST = ['Host', 'graph.microsoft.com'];

describe('judge: one decision for every form a request takes', () => {
  it('reaches the same decision for a URL sent to the proxy and the same request inside a tunnel', () => {
    for (const [method, target] of [
      ['GET', '/v1.0/users?$top=999'],
      ['GET', '/v1.0/users/u1/drive'],
      ['DELETE', '/v1.0/users/u1'],
      ['GET', '/v1.0/users/../groups'],
    ] as const) {
      const absolute = judge(enforce, { form: 'absolute', method, url: `https://graph.microsoft.com${target}` });
      const tunnel = judge(enforce, { form: 'tunnel', method, target, host: 'graph.microsoft.com', port: 443, hostHeader: 'graph.microsoft.com' });
      expect(tunnel, `${method} ${target}`).toEqual(absolute);
    }
  });

  it('says what happens: allow, deny, or would_deny (observe mode forwards and reports)', () => {
    const url = 'https://graph.microsoft.com/v1.0/users/u1/drive';
    expect(judge(enforce, { form: 'absolute', method: 'GET', url: 'https://graph.microsoft.com/v1.0/users' })).toMatchObject({ effect: 'allow', target: '/v1.0/users' });
    expect(judge(enforce, { form: 'absolute', method: 'GET', url })).toMatchObject({ effect: 'deny', target: undefined, decision: { code: 'PATH_NOT_ALLOWED' } });
    expect(judge(observe, { form: 'absolute', method: 'GET', url })).toMatchObject({ effect: 'would_deny', target: '/v1.0/users/u1/drive' });
    expect(judge(observe, { form: 'connect', authority: 'example.com:443' })).toMatchObject({ effect: 'would_deny', decision: { code: 'HOST_NOT_ALLOWED' } });
  });

  it('keeps observe mode from forwarding what cannot or must not be forwarded (regression: the text said "forwarded")', () => {
    const cases = [
      { form: 'absolute', method: 'GET', url: 'http://graph.microsoft.com/v1.0/users' },
      { form: 'absolute', method: 'GET', url: 'https://10.0.0.1/v1.0/users' },
      { form: 'absolute', method: 'GET', url: 'https://user:pw@graph.microsoft.com/v1.0/users' },
      { form: 'absolute', method: 'GET', url: '/v1.0/users' },
      { form: 'absolute', method: 'GET', url: 'https://graph.microsoft.com/v1.0/users', shape: shape([...HOST, ...HOST]) },
      { form: 'absolute', method: 'GET', url: 'https://graph.microsoft.com/v1.0/users', shape: shape([...HOST, 'X-HTTP-Method-Override', 'DELETE']) },
      { form: 'tunnel', method: 'GET', target: '/v1.0/users', host: 'graph.microsoft.com', port: 443, hostHeader: 'evil.test' },
      { form: 'connect', authority: 'graph.microsoft.com:443', serverName: 'evil.test' },
      { form: 'connect', authority: 'user@graph.microsoft.com:443' },
    ] as const;
    for (const seen of cases) {
      const v = judge(observe, seen);
      expect(v.effect, JSON.stringify(seen)).toBe('deny');
      expect(decisionText('GET', 'https://x/', v, { closest: true })).not.toContain('forwarded');
    }
  });

  it('refuses a request whose framing cannot be trusted before the policy, and says the connection must close', () => {
    const smuggled = judge(enforce, { form: 'absolute', method: 'GET', url: 'https://graph.microsoft.com/v1.0/users', shape: shape([...HOST, 'Content-Length', '5']) });
    expect(smuggled).toMatchObject({ effect: 'deny', framingTrusted: false, decision: { code: 'AMBIGUOUS_REQUEST' } });
    const clean = judge(enforce, { form: 'absolute', method: 'GET', url: 'https://graph.microsoft.com/v1.0/users', shape: shape(HOST) });
    expect(clean).toMatchObject({ effect: 'allow', framingTrusted: true });
  });

  it('applies the token checks only when it is given the token facts', () => {
    const site = policyFrom(`providers:\n  entra-id:\n    tenant: ${TENANT}\n    checkTokenTenant: true\n`);
    const seen = { form: 'absolute', method: 'GET', url: 'https://graph.microsoft.com/v1.0/users' } as const;
    expect(judge(site, seen).effect).toBe('allow');
    expect(judge(site, { ...seen, token: { authorization: 'Bearer opaque' } })).toMatchObject({ effect: 'deny', decision: { code: 'TOKEN_TENANT_MISMATCH' } });
  });

  it('judges the server name against the CONNECT host', () => {
    expect(judge(enforce, { form: 'connect', authority: 'graph.microsoft.com:443', serverName: 'GRAPH.microsoft.com' }).effect).toBe('allow');
    expect(judge(enforce, { form: 'connect', authority: 'graph.microsoft.com:443', serverName: 'login.microsoftonline.com' }).decision.code).toBe('SNI_MISMATCH');
    expect(judge(enforce, { form: 'connect', authority: 'graph.microsoft.com' }).decision.code).toBe('MALFORMED_REQUEST');
  });
});

describe('failureEffect', () => {
  it('counts an address the gateway refused to dial as a denial, every other failure as an allowed call', () => {
    expect(failureEffect('PRIVATE_ADDRESS')).toBe('deny');
    for (const code of ['UPSTREAM_CONNECT', 'UPSTREAM_TIMEOUT', 'DNS_FAILED', 'UPSTREAM_TLS'] as const) expect(failureEffect(code)).toBe('allow');
  });
});
