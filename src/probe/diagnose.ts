import type { ProbeCode } from '../core/errors.js';

/** What failed, in the words a network engineer would use, and the first thing to try. */
export interface Failure {
  readonly code: ProbeCode;
  readonly what: string;
  readonly fix: string;
}

export interface Where {
  readonly host: string;
  readonly port: number;
  /** The proxy the probe went through, credentials removed. */
  readonly via: string | undefined;
}

const CERT_UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
]);
const CERT_DATES = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

const codeOf = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

export function dnsFailure(err: unknown, w: Where): Failure {
  const code = codeOf(err);
  return code === 'ENOTFOUND' || code === 'ENODATA'
    ? {
        code: 'PROBE_NXDOMAIN',
        what: `${w.host} does not resolve (${code}: no such name)`,
        fix: 'check the resolvers this host uses (/etc/resolv.conf); split-horizon DNS often hides public names; or pin the address with upstream.resolve',
      }
    : {
        code: 'PROBE_DNS_FAILED',
        what: `DNS lookup of ${w.host} failed (${code})`,
        fix: 'the resolver did not answer: check that this host may reach its DNS servers (UDP and TCP 53)',
      };
}

export function privateFailure(problem: string, w: Where): Failure {
  return {
    code: 'PROBE_PRIVATE_ADDRESS',
    what: `${w.host} resolves to an address the gateway refuses to dial: ${problem}`,
    fix: `if ${w.host} is your own self-hosted provider, add it to upstream.allowPrivate; otherwise DNS is answering with an internal address (split horizon or hijack)`,
  };
}

export function connectFailure(err: unknown, w: Where, timedOut: boolean): Failure {
  const target = w.via ? `the proxy ${w.via}` : `${w.host}:${w.port}`;
  if (timedOut) {
    return {
      code: 'PROBE_CONNECT_TIMEOUT',
      what: `TCP connect to ${target} timed out`,
      fix: `a firewall is dropping the packets: allow TCP ${w.via ? 'to the proxy' : `port ${w.port} to ${w.host}`} from this host`,
    };
  }
  const code = codeOf(err);
  if (code === 'ECONNREFUSED') {
    return {
      code: 'PROBE_CONNECT_REFUSED',
      what: `TCP connect to ${target} was refused`,
      fix: w.via ? 'the proxy is not listening there: check --via' : `nothing accepts TCP ${w.port} there, or a firewall rejects it: check the address and the port`,
    };
  }
  return { code: 'PROBE_CONNECT_FAILED', what: `TCP connect to ${target} failed (${code})`, fix: 'check the route from this host (ip route get ADDRESS) and any firewall between' };
}

export function proxyFailure(status: number, code: string | undefined, reason: string, w: Where): Failure {
  const named = code ? ` ${code}` : '';
  return {
    code: 'PROBE_PROXY_REFUSED',
    what: `the proxy answered CONNECT ${w.host}:${w.port} with ${status}${named}${reason ? `: ${reason}` : ''}`,
    fix:
      status === 407
        ? 'the proxy wants credentials: give them in --via http://user:password@host:port'
        : code
          ? `the gateway refused it: idp-egress explain CONNECT https://${w.host}:${w.port}/ shows the rule (docs/errors.md#${code.toLowerCase()})`
          : 'the proxy does not allow this host: ask for it to be allowed (idp-egress rules --format hosts lists them all)',
  };
}

export function tlsFailure(err: unknown, w: Where, timedOut: boolean): Failure {
  if (timedOut) {
    return {
      code: 'PROBE_TLS_TIMEOUT',
      what: `the TLS handshake with ${w.host} did not complete`,
      fix: 'something on the path holds the ClientHello: a firewall inspecting TLS, or a server that is not speaking TLS on this port',
    };
  }
  const code = codeOf(err);
  const message = (err as Error).message;
  if (code === 'ECONNRESET' || code === 'EPIPE' || /socket disconnected|socket hang up/i.test(message)) {
    return {
      code: 'PROBE_TLS_RESET',
      what: `the connection was reset during the TLS handshake with ${w.host}`,
      fix: `a firewall or proxy that filters on the TLS server name blocks ${w.host}: this is the "Connection reset" Jira shows; allow ${w.host} there (idp-egress rules has its format)`,
    };
  }
  if (CERT_UNTRUSTED.has(code)) {
    return {
      code: 'PROBE_CERT_UNTRUSTED',
      what: `${w.host}'s certificate is not trusted (${code})`,
      fix: w.via
        ? "a TLS-inspecting proxy re-signs it: trust the proxy's CA (the gateway's is certs/ca.pem; pass others with --ca FILE)"
        : "a TLS-inspecting device on the path re-signs it: add that device's CA to upstream.ca (and to the JRE's truststore for Jira)",
    };
  }
  if (CERT_DATES.has(code)) {
    return { code: 'PROBE_CERT_EXPIRED', what: `${w.host}'s certificate is outside its validity (${code})`, fix: "check this host's clock (timedatectl), then the certificate the path presents" };
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return {
      code: 'PROBE_CERT_NAME_MISMATCH',
      what: `the certificate presented does not name ${w.host}`,
      fix: 'something answers for another name: a captive portal, a wrong upstream.resolve address, or an inspecting device that does not mint per host',
    };
  }
  return { code: 'PROBE_TLS_FAILED', what: `the TLS handshake with ${w.host} failed (${code}: ${message})`, fix: 'the server and this host share no TLS version or cipher: TLS 1.2 or later is required' };
}

export function httpFailure(err: unknown, w: Where, timedOut: boolean): Failure {
  return timedOut
    ? { code: 'PROBE_HTTP_TIMEOUT', what: `${w.host} sent no HTTP response in time`, fix: 'the provider or a proxy on the path is stalling: retry, then check the provider status page' }
    : {
        code: 'PROBE_HTTP_FAILED',
        what: `the connection closed before ${w.host} answered (${codeOf(err)})`,
        fix: 'a device that inspects HTTP inside TLS dropped the request: check its logs for this host',
      };
}

/**
 * Any answer from the provider itself proves the path: a token request without credentials gets
 * 400 or 401, a read without a token 401 or 403. A 5xx, or a denial by our gateway (it names
 * itself with X-Idp-Egress-Code), does not.
 */
export function statusFailure(status: number, gatewayCode: string | undefined, w: Where): Failure | undefined {
  if (gatewayCode) {
    return {
      code: 'PROBE_HTTP_STATUS',
      what: `the gateway answered ${status} ${gatewayCode}`,
      fix: gatewayCode.startsWith('UPSTREAM_') || gatewayCode === 'DNS_FAILED' || gatewayCode === 'PRIVATE_ADDRESS'
        ? 'the gateway could not reach the provider: run idp-egress probe on the gateway host, without --via, to see where'
        : `the gateway's policy refused the probe request: docs/errors.md#${gatewayCode.toLowerCase()}`,
    };
  }
  if (status >= 200 && status < 500) return undefined;
  return { code: 'PROBE_HTTP_STATUS', what: `${w.host} answered ${status}`, fix: 'the path is open but the provider is failing: check its status page and retry later' };
}
