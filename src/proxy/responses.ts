import type { ServerResponse } from 'node:http';
import { statusOfCode, type Code } from '../core/errors.js';
import { hasRequestBody } from './headers.js';

/** The header that names the gateway's own code on every answer it makes itself. */
export const CODE_HEADER = 'x-idp-egress-code';
export const ENDPOINT_HEADER = 'x-idp-egress-endpoint';

export interface GatewayAnswer {
  readonly code: Code;
  readonly text: string;
  readonly endpoint?: string | undefined;
  readonly extraHeaders?: Readonly<Record<string, string>>;
}

function headersFor(a: GatewayAnswer, body: string): Record<string, string | number> {
  return {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    [CODE_HEADER]: a.code,
    ...(a.endpoint ? { [ENDPOINT_HEADER]: a.endpoint } : {}),
    ...a.extraHeaders,
  };
}

/** Answers an HTTP request (plain or inside an intercepted tunnel) with the gateway's own status. */
export function answer(res: ServerResponse, a: GatewayAnswer): void {
  if (res.headersSent) {
    // A status can no longer be sent; closing is the only honest signal left.
    res.destroy();
    return;
  }
  // A request whose body has not all arrived closes after its answer: Node would read and drop
  // the rest to reuse the connection, as slowly as the client cares to send it.
  if (!res.req.complete && hasRequestBody(res.req.headers)) res.shouldKeepAlive = false;
  const body = a.text.endsWith('\n') ? a.text : `${a.text}\n`;
  res.writeHead(statusOfCode(a.code), headersFor(a, body));
  res.end(body);
}

/** The same answer as raw HTTP/1.1 bytes, for a CONNECT socket that Node no longer parses. */
export function rawAnswer(a: GatewayAnswer): string {
  const body = a.text.endsWith('\n') ? a.text : `${a.text}\n`;
  const status = statusOfCode(a.code);
  const head = Object.entries({ ...headersFor(a, body), connection: 'close' })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return `HTTP/1.1 ${status} ${REASON[status] ?? 'Error'}\r\n${head}\r\n${body}`;
}

const REASON: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  403: 'Forbidden',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  414: 'URI Too Long',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  503: 'Service Unavailable',
  502: 'Bad Gateway',
  504: 'Gateway Timeout',
};
