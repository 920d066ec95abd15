import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitAbsoluteUrl } from '../../../src/policy/absolute-url.js';
import { judge } from '../../../src/policy/judge.js';
import { decide } from '../../../src/policy/decide.js';
import { normaliseHost } from '../../../src/core/host.js';
import { redact } from '../../../src/core/redact.js';
import { parseRequestTarget } from '../../../src/policy/request-target.js';
import { startHarness, type Harness } from '../../support/gateway.js';
import { BOUND_SITE, policyFrom, TENANT } from '../../support/policy.js';
import { completeResponse, openConnect, readUntil, tlsOver } from '../../support/raw.js';

/**
 * Property-based fuzzing (fast-check) of request-target and host parsing. In process: nothing a
 * client can send makes the policy throw. On the wire: whatever the fake provider receives is
 * exactly a request the policy allows, byte for byte as the client sent its target.
 */
const policy = policyFrom(BOUND_SITE);

/** Pieces real and hostile targets are made of: allowed paths, encodings, dots, controls. */
const SEGMENT = fc.oneof(
  fc.constantFrom('v1.0', 'beta', 'users', 'groups', 'u1', 'members', 'manager', 'photo', '$value', 'memberOf', 'me', 'admin', 'drive', TENANT, 'oauth2', 'v2.0', 'token'),
  fc.constantFrom('.', '..', '%2e', '%2E%2e', '%2f', '%5c', '%00', '%25', '%252e', ';x=1', '', ' ', '\t', '\\', '%', '%zz', 'é', '%c3%a9', '@', ':'),
  fc.string({ maxLength: 8 }),
);
const QUERY = fc.oneof(
  fc.constant(''),
  fc.constantFrom('?$top=5', '?$select=id,displayName', '?%24top=1', '?a=b&c', '?#frag', '?x=%zz', '?\u0000', '?customer=my_customer&domain=evil.test'),
  fc.string({ maxLength: 12 }).map((s) => `?${s}`),
);
const TARGET = fc.tuple(fc.array(SEGMENT, { minLength: 0, maxLength: 6 }), QUERY, fc.boolean()).map(([segments, query, leading]) => `${leading ? '/' : ''}${segments.join('/')}${query}`);
/** Allowed Graph paths, alone or with a piece of the hostile vocabulary appended. */
const NEAR_ALLOWED = fc
  .tuple(
    fc.constantFrom('/v1.0/users', '/beta/users/u1', '/v1.0/users/u1/manager', '/v1.0/groups', '/v1.0/groups/g1/members', '/v1.0/users/alice%40contoso.com/memberOf', '/v1.0/users/u1/photo/$value'),
    fc.option(SEGMENT, { nil: undefined }),
    QUERY,
  )
  .map(([path, extra, query]) => `${path}${extra === undefined ? '' : `/${extra}`}${query}`);
const HOST = fc.oneof(
  fc.constantFrom('graph.microsoft.com', 'GRAPH.microsoft.com.', 'graph.microsoft.com.evil.test', 'xn--grph-9qa.microsoft.com', 'gräph.microsoft.com', '127.0.0.1', '0x7f.1', '[::1]', 'acme.okta.com', 'a..okta.com', '*.okta.com', ''),
  fc.string({ maxLength: 20 }),
);
const METHOD = fc.oneof(fc.constantFrom('GET', 'POST', 'HEAD', 'DELETE', 'PATCH', 'CONNECT', 'get', 'GET ', 'G\u0000T'), fc.string({ maxLength: 6 }));

describe('adversarial: fuzzing the parsers', () => {
  it('decide, judge, splitAbsoluteUrl, parseRequestTarget, normaliseHost and redact never throw, and always answer a decision', () => {
    fc.assert(
      fc.property(METHOD, HOST, TARGET, fc.option(fc.string({ maxLength: 20 }), { nil: undefined }), (method, host, target, hostHeader) => {
        const d = decide(policy, { method, scheme: 'https', host, port: 443, target, hostHeader });
        expect(['allow', 'deny']).toContain(d.action);
        expect(typeof d.reason).toBe('string');
        const url = `https://${host}${target}`;
        const viaUrl = judge(policy, { form: 'absolute', method, url });
        expect(['allow', 'deny']).toContain(viaUrl.decision.action);
        expect(['allow', 'deny', 'would_deny']).toContain(viaUrl.effect);
        expect(['allow', 'deny', 'would_deny']).toContain(judge(policy, { form: 'connect', authority: `${host}:443`, serverName: hostHeader }).effect);
        splitAbsoluteUrl(url);
        parseRequestTarget(target);
        normaliseHost(host);
        expect(typeof redact(url).text).toBe('string');
      }),
      { numRuns: 20_000 },
    );
  });

  it('allows a target only when every segment decodes to something unambiguous', () => {
    fc.assert(
      fc.property(fc.oneof(TARGET, NEAR_ALLOWED), (target) => {
        const d = decide(policy, { method: 'GET', scheme: 'https', host: 'graph.microsoft.com', port: 443, target });
        if (d.action !== 'allow') return;
        expect(target.startsWith('/')).toBe(true);
        const path = target.split('?')[0]!;
        for (const seg of path.slice(1).split('/')) {
          expect(seg).not.toBe('');
          expect(decodeURIComponent(seg)).not.toMatch(/^\.\.?$|[/\\\u0000-\u001f]/);
        }
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('adversarial: fuzzing through the gateway', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('the provider receives exactly the requests the policy allows, with their targets as sent', async () => {
    const { socket } = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
    let tls = await tlsOver(socket, 'graph.microsoft.com', h.gatewayCaPem);
    const allowedSent: string[] = [];
    const before = h.provider.seen.length;
    // Printable targets only: the request line must reach the gateway's parser as one line.
    const printable = fc.oneof(TARGET, NEAR_ALLOWED, NEAR_ALLOWED).filter((t) => /^[\x21-\x7e]+$/.test(t));
    const samples = fc.sample(fc.tuple(fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'POST', 'DELETE'), printable), { numRuns: 300, seed: 13 });
    for (const [method, target] of samples) {
      if (tls.destroyed) {
        const fresh = await openConnect(h.run.address.port, 'graph.microsoft.com:443');
        tls = await tlsOver(fresh.socket, 'graph.microsoft.com', h.gatewayCaPem);
      }
      const expected = decide(policy, { method, scheme: 'https', host: 'graph.microsoft.com', port: 443, target, hostHeader: 'graph.microsoft.com' });
      tls.write(`${method} ${target} HTTP/1.1\r\nHost: graph.microsoft.com\r\n${method === 'POST' ? 'Content-Length: 0\r\n' : ''}\r\n`);
      const text = await readUntil(tls, (t) => (method === 'HEAD' ? t.includes('\r\n\r\n') : completeResponse(t)), 3_000);
      expect(text, `${method} ${target}`).toMatch(/^HTTP\/1\.1 \d{3} /);
      if (expected.action === 'allow') {
        allowedSent.push(`${method} ${target}`);
        expect(text, `${method} ${target} is allowed`).not.toMatch(/x-idp-egress-code: /i);
      } else {
        expect(text, `${method} ${target} is denied`).toMatch(/x-idp-egress-code: /i);
      }
      if (/\r\nconnection: close\r\n/i.test(text)) tls.destroy();
    }
    tls.destroy();
    const received = h.provider.seen.slice(before).map((r) => `${r.method} ${r.url}`);
    expect(received).toEqual(allowedSent);
    expect(allowedSent.length).toBeGreaterThan(5);
  });
});
