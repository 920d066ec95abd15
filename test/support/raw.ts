import { connect as netConnect, createServer, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';

/** Reads from a socket until `done(text)` is true or it closes; resolves with what arrived. */
export function readUntil(socket: Socket | TLSSocket, done: (text: string) => boolean, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const finish = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', finish);
      socket.off('error', finish);
      resolve(text);
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (done(text)) finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', onData);
    socket.once('close', finish);
    socket.once('error', finish);
  });
}

/** A full HTTP/1.1 response has arrived (headers plus Content-Length bytes). */
export function completeResponse(text: string): boolean {
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return false;
  const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))?.[1];
  return length === undefined || text.length - end - 4 >= Number(length);
}

/** Sends raw bytes to the proxy (for requests that client libraries would sanitise) and reads one response. */
export async function sendRaw(proxyPort: number, bytes: string): Promise<string> {
  const socket = netConnect(proxyPort, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  socket.write(bytes);
  const text = await readUntil(socket, completeResponse);
  socket.destroy();
  return text;
}

/** CONNECT through the proxy (with `headerLines`, each ending in CRLF); resolves with the proxy's answer head and the open socket. */
export async function openConnect(proxyPort: number, authority: string, headerLines = ''): Promise<{ head: string; socket: Socket }> {
  const socket = netConnect(proxyPort, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${headerLines}\r\n`);
  const head = await readUntil(socket, (t) => t.includes('\r\n\r\n') && (t.startsWith('HTTP/1.1 200') || completeResponse(t)));
  return { head, socket };
}

/** TLS over an established CONNECT tunnel, trusting `ca`, with the given server name. */
export function tlsOver(socket: Socket, servername: string, ca: string, options: ConnectionOptions = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ socket, servername, ca, ALPNProtocols: ['http/1.1'], ...options }, () => resolve(tls));
    tls.once('error', reject);
  });
}

/** A real ClientHello for `servername`, as Node's TLS client sends it, caught before any server answers. */
export async function clientHello(servername: string): Promise<Buffer> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const first = new Promise<Buffer>((resolve) => server.once('connection', (s: Socket) => s.once('data', (d: Buffer) => (resolve(d), s.destroy()))));
  const tls = tlsConnect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', servername, rejectUnauthorized: false });
  tls.on('error', () => undefined);
  const hello = await first;
  tls.destroy();
  server.close();
  return hello;
}

/**
 * Sends `head` (a request that declares a body) and then the body a byte every 50 ms, the way a
 * slow or hostile client would, until the gateway closes the connection; resolves with what it
 * answered, or rejects if the connection is still open after `withinMs`.
 */
export async function trickleUntilClosed(socket: Socket | TLSSocket, head: string, withinMs = 2_000): Promise<string> {
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(head);
  const trickle = setInterval(() => socket.writable && socket.write('1'), 50);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([closed, new Promise((_r, reject) => (timer = setTimeout(() => reject(new Error(`still open after ${withinMs} ms: ${JSON.stringify(text)}`)), withinMs)))]);
  } finally {
    clearInterval(trickle);
    clearTimeout(timer);
    socket.destroy();
  }
  return text;
}
