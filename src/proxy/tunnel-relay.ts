import type { OnReadOpts, Socket } from 'node:net';

/** One read's room: what Node itself offers libuv for a read (64 KiB). */
const READ_BYTES = 64 * 1024;

/**
 * Carries a spliced tunnel's bytes from the provider to the client through one reused buffer
 * (net.Socket's `onread`). Piped, every read arrives in a new ArrayBuffer outside V8's heap,
 * and each ~64 MB of those made V8 run a full mark-compact: on 20 KB Graph pages at concurrency
 * 16 (anchors harness, per-thread CPU from /proc) V8's GC threads took 23-36 us of the tunnel's
 * 81-97 us a request, and 0.3-3 us of 51-58 with this relay. The client-to-provider direction
 * stays a pipe: requests are a few hundred bytes.
 *
 * A chunk the client's socket could not take at once is still referenced by its pending write,
 * so the next read goes into a new buffer, and chunks queued behind it are copies of their own
 * size; a full client pauses the provider until 'drain'. An open tunnel holds its one buffer
 * (64 KB; limits.maxConnections of them at most) where pipe() held nothing between reads.
 * The provider's socket starts paused: nothing it sends before the client is attached (after
 * the 200) is read, so nothing reaches the client ahead of the gateway's answer.
 */
export class ProviderToClient {
  private buffer = Buffer.allocUnsafeSlow(READ_BYTES);
  private client: Socket | undefined;
  private provider: Socket | undefined;

  /** For net.connect: the provider's reads land here. */
  readonly onread: OnReadOpts = {
    buffer: () => this.buffer,
    callback: (bytes, buffer) => this.deliver(bytes, buffer),
  };

  /** The provider's socket, made with `onread`: paused until start(). */
  hold(provider: Socket): void {
    this.provider = provider;
    provider.pause();
  }

  /** Starts carrying bytes to the client; its end follows the provider's (as pipe() did). */
  start(client: Socket): void {
    const provider = this.provider!;
    this.client = client;
    provider.once('end', () => client.end());
    provider.resume();
  }

  private deliver(bytes: number, buffer: Uint8Array): boolean {
    const client = this.client!;
    const chunk = Buffer.from(buffer.buffer, buffer.byteOffset, bytes);
    // Behind a pending write, a chunk waits in the client's queue: it goes as a copy of its own
    // size, so a client that reads slowly cannot make every small read hold a 64 KB buffer.
    const queued = client.writableLength > 0;
    const flowing = client.write(queued ? Buffer.from(chunk) : chunk);
    if (!queued && client.writableLength > 0) this.buffer = Buffer.allocUnsafeSlow(READ_BYTES);
    if (!flowing) client.once('drain', () => this.provider!.resume());
    return flowing;
  }
}
