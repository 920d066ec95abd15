import type { Code } from '../core/errors.js';
import { splitAbsoluteUrl } from './absolute-url.js';
import { decide, isEnforced, type Decision } from './decide.js';
import type { Policy } from './model.js';
import { requestShapeProblem, type RequestShape } from './request-shape.js';
import { tokenTenantDenial } from './token-tenant.js';

/**
 * A request as whoever judges it sees it. The gateway sees all three forms on the wire; `explain`
 * and `report` see an absolute URL (with the SNI and Host header `explain` is given).
 */
export type SeenRequest =
  /** Sent to the proxy itself: `GET https://host/path HTTP/1.1` (RFC 9112 section 3.2.2). */
  | {
      readonly form: 'absolute';
      readonly method: string;
      readonly url: string;
      readonly shape?: RequestShape | undefined;
      readonly sni?: string | undefined;
      readonly hostHeader?: string | undefined;
      readonly token?: TokenFacts | undefined;
    }
  /** Inside an intercepted tunnel: origin-form, for the tunnel's host and port. */
  | {
      readonly form: 'tunnel';
      readonly method: string;
      readonly target: string;
      readonly host: string;
      readonly port: number;
      readonly shape?: RequestShape | undefined;
      readonly hostHeader?: string | undefined;
      readonly token?: TokenFacts | undefined;
    }
  /** `CONNECT host:port`, and again with the TLS server name once the ClientHello is read. */
  | { readonly form: 'connect'; readonly authority: string; readonly serverName?: string | undefined };

/** What the gateway knows of the credentials a call presents, for the checks that read them. */
export interface TokenFacts {
  readonly authorization: string | undefined;
}

/**
 * What happens to a request: allow (forwarded), deny (answered with the code, never forwarded),
 * or would_deny (observe mode forwards a denial and reports it; Smokescreen's AllowAndReport).
 */
export type Effect = 'allow' | 'deny' | 'would_deny';

export interface Verdict {
  readonly decision: Decision;
  readonly effect: Effect;
  /** The origin-form target the provider is sent, when the request is forwarded. */
  readonly target: string | undefined;
  /**
   * false when the request's framing cannot be trusted (an ambiguous length, a duplicated Host),
   * so neither can whatever follows it on the connection: the gateway closes it after the answer.
   */
  readonly framingTrusted: boolean;
}

/**
 * The one judge: the gateway, `explain` and `report` all reach a decision here, so they cannot
 * disagree about a request or about what observe mode does with it.
 */
export function judge(policy: Policy, seen: SeenRequest): Verdict {
  if (seen.form === 'connect') return judgeConnect(policy, seen.authority, seen.serverName);

  if (seen.shape) {
    const problem = requestShapeProblem(seen.shape);
    if (problem) return refused(policy, problem.code, problem.reason, false);
  }
  let target: string;
  let decision: Decision;
  if (seen.form === 'absolute') {
    if (seen.url.startsWith('/')) {
      return refused(policy, 'MALFORMED_REQUEST', 'idp-egress is a forward proxy: send absolute-form requests (GET https://host/path) or CONNECT host:443');
    }
    const split = splitAbsoluteUrl(seen.url);
    if (!split.ok) return refused(policy, split.code, split.reason);
    target = split.target;
    decision = decide(policy, { method: seen.method, scheme: split.scheme, host: split.host, port: split.port, target, sni: seen.sni, hostHeader: seen.hostHeader });
  } else {
    target = seen.target;
    decision = decide(policy, { method: seen.method, scheme: 'https', host: seen.host, port: seen.port, target, hostHeader: seen.hostHeader });
  }
  if (seen.token) decision = tokenTenantDenial(policy, decision, seen.token.authorization) ?? decision;
  return verdict(decision, target);
}

const REFUSED_MID_REQUEST: ReadonlySet<Code> = new Set<Code>(['REQUEST_TIMEOUT', 'MALFORMED_REQUEST', 'HEADERS_TOO_LARGE']);

/**
 * What happens to an allowed call that could not be completed: an address the gateway refused to
 * dial (PRIVATE_ADDRESS) is a denial in every mode, so alerts keyed on denials see SSRF
 * attempts, and so is a request body refused part-way (not sent in time, bad chunking,
 * oversized trailers), as the same faults in a request's headers are; every other failure is an
 * allowed call that failed.
 */
export function failureEffect(code: Code): 'deny' | 'allow' {
  return code === 'PRIVATE_ADDRESS' || REFUSED_MID_REQUEST.has(code) ? 'deny' : 'allow';
}

// RFC 9110 section 9.3.6: CONNECT's target is authority-form, host:port; brackets for IPv6.
const AUTHORITY = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/;

function judgeConnect(policy: Policy, authority: string, serverName: string | undefined): Verdict {
  if (authority.includes('@')) return refused(policy, 'USERINFO_NOT_ALLOWED', 'the CONNECT target carries credentials before the host (user:password@)');
  const m = AUTHORITY.exec(authority);
  if (!m) return refused(policy, 'MALFORMED_REQUEST', `CONNECT needs host:port, not ${JSON.stringify(authority)}`);
  return verdict(decide(policy, { method: 'CONNECT', scheme: 'https', host: m[1]!, port: Number(m[2]), sni: serverName }), undefined);
}

function verdict(decision: Decision, target: string | undefined): Verdict {
  const effect: Effect = decision.action === 'allow' ? 'allow' : isEnforced(decision) ? 'deny' : 'would_deny';
  return { decision, effect, target: effect === 'deny' ? undefined : target, framingTrusted: true };
}

function refused(policy: Policy, code: Decision['code'], reason: string, framingTrusted = true): Verdict {
  return { ...verdict({ action: 'deny', code, reason, mode: policy.mode }, undefined), framingTrusted };
}
