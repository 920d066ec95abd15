import type { Socket } from 'node:net';
import { isIP } from 'node:net';
import type { Code } from '../core/errors.js';
import { addressValue, canonicalV6 } from './addresses.js';
import { MAX_LINGERING } from './descriptors.js';

/**
 * How long a connection the gateway closes after an answer may take to read it and close its
 * side. `socket.end()` alone leaves the socket in FIN-WAIT-2, owned by the gateway, for as long
 * as a client that never reads or closes likes: 1,024 such sockets locked every other client
 * out (issue 13). After this, the socket is destroyed whatever the client does.
 */
export const LINGER_MS = 1_000;

/** How a refusal's reason says that the configured limit was lowered (descriptors.ts). */
const LOWERED = "lowered to fit the process's open-files limit";

export type Admission =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: Extract<Code, 'TOO_MANY_CONNECTIONS' | 'GATEWAY_BUSY'>; readonly reason: string };

interface Held {
  readonly address: string;
  /** Requests in progress on this connection (inside its tunnel, for an intercepted one). */
  busy: number;
  /** A spliced tunnel's bytes are opaque: it is never idle, and never closed for room. */
  pinned: boolean;
  /** Called once no request on the connection is in progress (ConnectionTable.afterRequests). */
  whenIdle: (() => void) | undefined;
  /** When it last became idle, in the table's idle order: the lowest has been idle longest. */
  idleSince: number;
}

/** No request in progress, and not a spliced tunnel: a connection that may be closed for room. */
function idle(h: Held): boolean {
  return h.busy === 0 && !h.pinned;
}

export interface ConnectionLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
  /** Refused connections answered at once (descriptors.ts); MAX_LINGERING unless the open-files limit lowers it. */
  readonly maxLingering?: number;
  /** The two limits as configured, when the open-files limit lowered them to the ones above (descriptors.ts planDescriptors). */
  readonly lowered?: { readonly maxConnections: number; readonly maxConnectionsPerClient: number };
}

/**
 * The client connections the gateway holds, by client address: a per-address cap so no client
 * can starve another, and room for a new client when the gateway is full, made by closing the
 * connection that has been idle longest (a keep-alive connection between requests, a tunnel with
 * no request in progress, or one that has not finished its first request's headers). Counted at
 * accept and released at close, as Squid's client_ip_max_connections and HAProxy's conn_cur do,
 * so idle keep-alive connections and tunnels count; an intercepted tunnel is one connection.
 */
export class ConnectionTable {
  private readonly held = new Map<Socket, Held>();
  private readonly perClient = new Map<string, number>();
  /**
   * Counts the times a connection became idle, for Held.idleSince. Idleness is kept in each
   * connection's record rather than in a Set of idle ones: V8 rebuilds a Set's table whenever a
   * delete leaves it under a quarter full, and allocates the new table where the old one lives,
   * so a long-lived Set emptied at every request's start made a table of old-generation garbage
   * a request, and with the provider shares' Map (upstream-shares.ts) a full mark-compact every
   * ~7 s under keep-alive load at concurrency 1 (docs/performance.md, session 38). Finding the
   * longest idle is a pass over the held connections, made only when the gateway is full and
   * one of them is idle (idleCount), so a flood at the limit with every connection busy costs
   * no pass.
   */
  private idleTurns = 0;
  /** Held connections that are idle(). */
  private idleCount = 0;
  /** Connections closed to make room, since start. */
  evicted = 0;
  /** Answered connections waiting out their linger (closeAfter). */
  private lingering = 0;

  constructor(private readonly limits: () => ConnectionLimits) {}

  get size(): number {
    return this.held.size;
  }

  /** Takes a new connection, or says why not; an admitted one is released when it closes. */
  admit(socket: Socket): Admission {
    const address = clientKey(socket.remoteAddress);
    const { maxConnections, maxConnectionsPerClient, lowered } = this.limits();
    const mine = this.perClient.get(address) ?? 0;
    if (mine >= maxConnectionsPerClient) {
      const setting = lowered ? `limits.maxConnectionsPerClient ${lowered.maxConnectionsPerClient}, ${LOWERED}` : `limits.maxConnectionsPerClient: ${maxConnectionsPerClient}`;
      return { ok: false, code: 'TOO_MANY_CONNECTIONS', reason: `client ${address} already holds ${mine} connections (${setting}; an IPv6 client counts by its /64)` };
    }
    if (this.held.size >= maxConnections && !this.evictIdle()) {
      const setting = lowered ? `limits.maxConnections ${lowered.maxConnections}, ${LOWERED}` : 'limits.maxConnections';
      return { ok: false, code: 'GATEWAY_BUSY', reason: `all ${maxConnections} connections (${setting}) have a request in progress` };
    }
    this.held.set(socket, { address, busy: 0, pinned: false, whenIdle: undefined, idleSince: this.idleTurns++ });
    this.idleCount++;
    // Read again: the connection closed for room may have been this client's own.
    this.perClient.set(address, (this.perClient.get(address) ?? 0) + 1);
    socket.once('close', () => this.release(socket));
    return { ok: true };
  }

  /**
   * Sends `bytes` (an answer), ends the connection, and destroys it after LINGER_MS at the latest.
   * Past maxLingering answers at once, a connection is destroyed unanswered, so a flood of
   * refusals cannot hold descriptors. True when the answer went out (as far as the gateway can
   * tell: into the socket), false when the connection was closed without it.
   */
  closeAfter(socket: Socket, bytes?: string): boolean {
    if (socket.destroyed) return false;
    if (this.lingering >= (this.limits().maxLingering ?? MAX_LINGERING) || !socket.writable) {
      socket.destroy();
      return false;
    }
    this.lingering++;
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => {
      this.lingering--;
      clearTimeout(timer);
    });
    // Whatever the client sends meanwhile is read and dropped, so its writes cannot stall.
    socket.resume();
    if (bytes === undefined) socket.end();
    else socket.end(bytes);
    return bytes !== undefined;
  }

  /** Who the connection counts against (clientKey), while it is held. */
  clientOf(socket: Socket): string | undefined {
    return this.held.get(socket)?.address;
  }

  /** A request started on this connection: it is not idle until the request ends. */
  busy(socket: Socket): void {
    const h = this.held.get(socket);
    if (!h) return;
    if (idle(h)) this.idleCount--;
    h.busy++;
  }

  /** A request on this connection ended; true when the connection is now idle. */
  done(socket: Socket): boolean {
    const h = this.held.get(socket);
    if (!h || h.busy === 0) return false;
    h.busy--;
    if (h.busy > 0) return false;
    if (h.whenIdle) {
      const then = h.whenIdle;
      h.whenIdle = undefined;
      then();
    }
    if (h.pinned) return false;
    h.idleSince = this.idleTurns++;
    this.idleCount++;
    return true;
  }

  /**
   * Calls `then` once every request in progress on the connection has its response: now if none
   * is, else when the last one's response closes. An answer written to the connection meanwhile
   * would land inside a response the client is still reading, and be taken for it (RFC 9112
   * section 9.3.2: responses go in the order of their requests). Not called if the connection
   * closes first; the caller listens for that.
   */
  afterRequests(socket: Socket, then: () => void): void {
    const h = this.held.get(socket);
    if (!h || h.busy === 0) return then();
    h.whenIdle = then;
  }

  /** Connections with no request in progress, longest idle first. */
  idleSockets(): Socket[] {
    return [...this.held]
      .filter(([, h]) => idle(h))
      .sort(([, a], [, b]) => a.idleSince - b.idleSince)
      .map(([socket]) => socket);
  }

  /** A spliced tunnel: counted, never idle. */
  pin(socket: Socket): void {
    const h = this.held.get(socket);
    if (!h) return;
    if (idle(h)) this.idleCount--;
    h.pinned = true;
  }

  /** Closes the longest-idle connection to make room; false when every connection is busy. */
  private evictIdle(): boolean {
    if (this.idleCount === 0) return false;
    let longest: Socket | undefined;
    let since = Infinity;
    for (const [socket, h] of this.held) {
      if (idle(h) && h.idleSince < since) [longest, since] = [socket, h.idleSince];
    }
    if (!longest) return false;
    this.release(longest);
    this.evicted++;
    // Closing between requests is ordinary HTTP/1.1 keep-alive behaviour (RFC 9112 section 9.3):
    // clients retry on a new connection.
    longest.destroy();
    return true;
  }

  private release(socket: Socket): void {
    const h = this.held.get(socket);
    if (!h) return;
    this.held.delete(socket);
    if (idle(h)) this.idleCount--;
    const left = (this.perClient.get(h.address) ?? 1) - 1;
    if (left > 0) this.perClient.set(h.address, left);
    else this.perClient.delete(h.address);
  }
}

/**
 * Who a connection counts against. An IPv4 address (an IPv4-mapped one read as IPv4) is one
 * client; an IPv6 client counts by its /64, the smallest prefix a host is given (RFC 6177
 * section 2): one machine can use every address of its /64, and per-address counting would let it
 * hold 256 connections from each of them.
 */
export function clientKey(remoteAddress: string | undefined): string {
  const address = unmappedAddress(remoteAddress ?? '');
  if (isIP(address) !== 6 || address.includes('%')) return address;
  return `${canonicalV6(addressValue(address).value & ~((1n << 64n) - 1n))}/64`;
}

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d, as dual-stack listeners report IPv4 clients) as plain IPv4. */
export function unmappedAddress(address: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  return v4 ?? address;
}
