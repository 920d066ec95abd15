import { channel } from 'node:diagnostics_channel';
import { isUpstreamFailure, type Code } from '../core/errors.js';
import type { Decision } from '../policy/decide.js';
import type { TokenCallAudit } from './token-call.js';

/**
 * What happened to one request or tunnel, published on the `idp-egress:outcome` diagnostics
 * channel; the audit log and metrics subscribe to it, the proxy never calls them directly.
 */
export interface Outcome {
  /** Unique per request or tunnel; the 403/502 answers do not carry it, the audit does. */
  readonly id: string;
  /** `connection`: refused or closed before a request on it could be judged (a limit, bad HTTP, a timeout). */
  readonly kind: 'request' | 'connect' | 'tunnel' | 'connection';
  readonly client: string;
  readonly method: string;
  /** The request URL (or CONNECT authority) with userinfo and secret query values redacted. */
  readonly url: string;
  readonly code: Code;
  /** The policy's decision, when one was made. */
  readonly decision: Decision | undefined;
  /** Whether a denial was enforced (false: observe mode forwarded it). */
  readonly enforced: boolean;
  readonly status: number | undefined;
  readonly tls: 'intercept' | 'tunnel' | undefined;
  readonly reason: string;
  readonly durationMs: number;
  /** When it ended, in epoch milliseconds: the audit line's time. */
  readonly time: number;
  /** Body bytes from the client and to the client (both directions of a tunnel). */
  readonly bytesIn?: number | undefined;
  readonly bytesOut?: number | undefined;
  /** The address:port dialled for the provider. */
  readonly upstream?: string | undefined;
  /** Allowlisted response headers (correlation IDs, rate-limit state). */
  readonly responseHeaders?: Readonly<Record<string, string>> | undefined;
  /** Token endpoints: what the request asked for and what came back, secrets excluded. */
  readonly token?: TokenCallAudit | undefined;
  /** API calls: the fingerprint of the bearer token presented (matches a token call's tokenFp). */
  readonly presentedTokenFp?: string | undefined;
  /** The names (never the values) of the request's headers, lower-cased. */
  readonly requestHeaderNames?: readonly string[] | undefined;
}

export const OUTCOME_CHANNEL = channel('idp-egress:outcome');

/** allow, deny, or would_deny (observe mode forwarded a denial); an upstream failure is an allowed call. */
export function outcomeDecision(o: Outcome): 'allow' | 'deny' | 'would_deny' {
  return o.enforced ? 'deny' : o.decision?.action === 'deny' ? 'would_deny' : 'allow';
}

/** What became of a call, as the report and the dashboard count it. */
export const CALL_RESULTS = ['allowed', 'denied', 'wouldDeny', 'failed'] as const;
export type CallResult = (typeof CALL_RESULTS)[number];

/** An allowed call that failed on the provider side (an upstream code) counts as failed, not allowed. */
export function callResult(decision: 'allow' | 'deny' | 'would_deny', code: string): CallResult {
  return decision === 'deny' ? 'denied' : decision === 'would_deny' ? 'wouldDeny' : isUpstreamFailure(code) ? 'failed' : 'allowed';
}
