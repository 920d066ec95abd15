import { isIP } from 'node:net';
import { isDnsName } from './host.js';

/** A host and port as the config writes them; `text` is the value as written, for messages. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
  readonly text: string;
}

/** host:port as a client writes it, IPv6 in brackets (RFC 3986 section 3.2.2). */
export function hostPortText(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/** An IP network; `block` is it in full (a bare address gets /32 or /128), `text` as written. */
export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 4 | 6;
  readonly block: string;
  readonly text: string;
}

/** host:port, with IPv6 in brackets ([::1]:3128); port 0 (any free port) only for listeners. */
export function parseHostPort(v: string, allowPortZero = false): HostPort | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(v);
  if (!m) return undefined;
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (port < (allowPortZero ? 0 : 1) || port > 65535) return undefined;
  if (m[1] !== undefined && isIP(host) !== 6) return undefined;
  if (m[2] !== undefined && isIP(host) === 0 && !isDnsName(host.toLowerCase())) return undefined;
  return { host, port, text: v };
}

/** An IPv4 or IPv6 CIDR; a bare address means that address alone. */
export function parseCidr(v: string): Cidr | undefined {
  const [address = '', prefixText] = v.split('/');
  const family = isIP(address);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  return { address, prefix, family: family as 4 | 6, block: `${address}/${prefix}`, text: v };
}

/** A loopback host: localhost, 127.0.0.0/8, ::1, or 127.x mapped into IPv6 (RFC 4291 §2.5.5.2). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127\./.test(h);
}
