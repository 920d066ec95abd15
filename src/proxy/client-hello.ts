import type { Socket } from 'node:net';

/**
 * The server name a client asks for in its TLS ClientHello, read before any TLS server sees the
 * bytes: the SNI is checked against the CONNECT host first, in both modes. Only the framing and
 * the server_name extension are read; everything else in the hello is skipped by its length.
 */
export type ClientHelloRead =
  | { readonly ok: true; readonly serverName: string | undefined }
  | { readonly ok: false; readonly reason: string };

const HANDSHAKE_RECORD = 0x16;
const CLIENT_HELLO = 0x01;
const SERVER_NAME_EXTENSION = 0x0000;
const HOST_NAME = 0x00;
const RECORD_HEADER = 5;
/** RFC 8446 section 5.1: a record's fragment is at most 2^14 bytes. */
const MAX_FRAGMENT = 16_384;
/** Far above any real ClientHello (post-quantum key shares make them ~2 KB); bounds what is held. */
const MAX_HELLO = 65_536;
/** Real hellos fit one record; a hello cut into more pieces than this is refused, not collected. */
const MAX_RECORDS = 64;

/** While the bytes so far end inside the ClientHello: how many bytes must be there before anything can change. */
export interface NeedMore {
  readonly need: number;
}

/**
 * Waits for the ClientHello at the start of `socket` and puts every byte it read back (paused),
 * for the TLS server or the splice that takes the socket next. The caller bounds the wait. The
 * bytes are joined and read again only when a record header or a whole record has arrived, so a
 * client that sends a byte at a time costs no more than one that sends the hello at once.
 */
export function peekServerName(socket: Socket): Promise<ClientHelloRead> {
  return new Promise((resolve) => {
    let chunks: Buffer[] = [];
    let size = 0;
    let need = 1;
    const finish = (result: ClientHelloRead, giveBack: boolean) => {
      // Paused before the listener goes, so nothing arriving meanwhile is emitted to no one.
      socket.pause();
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      if (giveBack) socket.unshift(Buffer.concat(chunks, size));
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size < need) return;
      const bytes = chunks.length === 1 ? chunk : Buffer.concat(chunks, size);
      chunks = [bytes];
      const read = readClientHello(bytes);
      if ('need' in read) need = read.need;
      else finish(read, true);
    };
    // An ended stream takes nothing back (and nobody would read it).
    const onEnd = () => finish({ ok: false, reason: 'the client closed the tunnel before its TLS ClientHello was complete' }, false);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.resume(); // also when the caller had paused it
  });
}

/**
 * The server name from the bytes a tunnel starts with, or how many bytes it needs first. The
 * handshake message may span several records (RFC 8446 section 5.1), which are joined first.
 */
export function readClientHello(bytes: Buffer): ClientHelloRead | NeedMore {
  const fragments: Buffer[] = [];
  let have = 0;
  let messageLength = -1;
  for (let at = 0; ; ) {
    if (bytes.length > at && bytes[at] !== HANDSHAKE_RECORD) {
      return refuse(at === 0 ? 'the tunnel does not start with a TLS handshake record (is the client speaking TLS?)' : 'the ClientHello continues in a record that is not a handshake record');
    }
    if (bytes.length < at + RECORD_HEADER) return { need: at + RECORD_HEADER };
    if (fragments.length === MAX_RECORDS) return refuse(`the ClientHello spans more than ${MAX_RECORDS} TLS records`);
    const length = bytes.readUInt16BE(at + 3);
    if (length === 0 || length > MAX_FRAGMENT) return refuse(`a TLS record of ${length} bytes (RFC 8446 allows 1 to ${MAX_FRAGMENT})`);
    if (bytes.length < at + RECORD_HEADER + length) return { need: at + RECORD_HEADER + length };
    fragments.push(bytes.subarray(at + RECORD_HEADER, at + RECORD_HEADER + length));
    have += length;
    at += RECORD_HEADER + length;
    if (messageLength === -1 && have >= 4) {
      const header = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments, have);
      if (header[0] !== CLIENT_HELLO) return refuse(`the first TLS handshake message is type ${header[0]}, not a ClientHello`);
      messageLength = 4 + header.readUIntBE(1, 3);
      if (messageLength > MAX_HELLO) return refuse(`a ClientHello of ${messageLength} bytes (more than ${MAX_HELLO})`);
    }
    if (messageLength !== -1 && have >= messageLength) {
      const message = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments, have);
      return serverNameIn(message.subarray(4, messageLength));
    }
  }
}

function refuse(reason: string): ClientHelloRead {
  return { ok: false, reason };
}

class Overrun extends Error {}

/** Reads big-endian fields and fails with Overrun past the end of what it was given. */
class Fields {
  constructor(
    private readonly bytes: Buffer,
    public at = 0,
    private readonly end = bytes.length,
  ) {}
  get done(): boolean {
    return this.at >= this.end;
  }
  u8(): number {
    this.need(1);
    return this.bytes[this.at++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.bytes.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }
  skip(n: number): void {
    this.need(n);
    this.at += n;
  }
  /** The next `n` bytes as their own reader, skipped here. */
  sub(n: number): Fields {
    this.need(n);
    const inner = new Fields(this.bytes, this.at, this.at + n);
    this.at += n;
    return inner;
  }
  text(n: number): string {
    this.need(n);
    const s = this.bytes.toString('latin1', this.at, this.at + n);
    this.at += n;
    return s;
  }
  private need(n: number): void {
    if (this.at + n > this.end) throw new Overrun();
  }
}

/** RFC 8446 section 4.1.2 (ClientHello) and RFC 6066 section 3 (server_name). */
function serverNameIn(hello: Buffer): ClientHelloRead {
  try {
    const f = new Fields(hello);
    f.skip(2 + 32); // legacy_version, random
    f.skip(f.u8()); // legacy_session_id
    f.skip(f.u16()); // cipher_suites
    f.skip(f.u8()); // legacy_compression_methods
    if (f.done) return { ok: true, serverName: undefined }; // a hello without extensions
    const extensions = f.sub(f.u16());
    while (!extensions.done) {
      const type = extensions.u16();
      const data = extensions.sub(extensions.u16());
      if (type !== SERVER_NAME_EXTENSION) continue;
      const names = data.sub(data.u16());
      while (!names.done) {
        const nameType = names.u8();
        const length = names.u16();
        if (nameType === HOST_NAME) return { ok: true, serverName: names.text(length) };
        names.skip(length);
      }
      return { ok: true, serverName: undefined };
    }
    return { ok: true, serverName: undefined };
  } catch (err) {
    if (err instanceof Overrun) return refuse('the ClientHello is malformed: a field runs past its end');
    throw err;
  }
}
