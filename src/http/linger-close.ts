/**
 * A lingering close for connections that close while the client may still be sending: a request
 * body read natively and not to its end (malformed chunked framing, a write error: lingerOnClose),
 * and a request Node.js's HTTP parser refused (answerClientError).
 *
 * Why: Node.js closes a connection after a `Connection: close` response with socket.destroySoon():
 * its FIN, then close(2) once the response is written. A socket closed with bytes the server never
 * read makes the kernel answer with a reset, and the client's kernel may then drop the response the
 * client had not read yet: the client sees "connection reset" instead of the 400 that says what was
 * wrong (chunked-reads.test.ts: a client sending 2 MiB after its refused body got EPIPE in 5 of 5
 * tries; 2 of 3 runs of 40 random bodies lost an answer). Web servers linger for this (Apache's
 * lingering close, nginx's lingering_close).
 *
 * How: the response and the FIN go out as before; then what the client still sends is read and
 * dropped, natively (libuv's reads of such a socket are stopped, and its HTTP parser is not in a
 * state to parse what follows), until the client closes its side, at most LINGER_BYTES or
 * LINGER_MS; then the connection closes. A client that stops sending but keeps its side open is
 * closed after LINGER_MS.
 */
import { STATUS_CODES } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { native } from '../native.js';
import { stopReads, tcpHandle, type ServerSocket } from './native-reads.js';

/** The longest a closing connection is read for, and the most bytes dropped. */
export const LINGER_MS = 2_000;
export const LINGER_BYTES = 16 * 1024 * 1024;

/** Connections that lingered, and those still lingering (tests). */
export const lingerStats = { started: 0, active: 0 };

/**
 * Makes Node.js's close after the response of this connection linger (see the header). Does nothing
 * where the socket cannot be read natively (then Node.js closes it as before).
 */
export function lingerOnClose(socket: ServerSocket | null | undefined): void {
  const recv = native.recvInto;
  const tcp = tcpHandle(socket);
  if (!socket || !recv || !tcp || typeof socket.destroySoon !== 'function') return;
  // As net.Socket's destroySoon, but the destroy waits for the unread bytes to be dropped.
  socket.destroySoon = function (this: ServerSocket): void {
    if (this.writable) this.end();
    const close = (): void => lingerThenDestroy(this, tcp, recv);
    if (this.writableFinished) close();
    else this.once('finish', close);
  };
}

type RecvInto = NonNullable<typeof native.recvInto>;

/** Drops what the client still sends (dropUnread), then destroys the socket. Called once its response and FIN are out. */
function lingerThenDestroy(socket: ServerSocket, tcp: { handle: unknown; fd: number }, recv: RecvInto): void {
  lingerStats.started++;
  lingerStats.active++;
  void dropUnread(socket, tcp.handle, tcp.fd, recv).finally(() => {
    lingerStats.active--;
    socket.destroy();
  });
}

async function dropUnread(socket: ServerSocket, handle: unknown, fd: number, recv: RecvInto): Promise<void> {
  const scratch = Buffer.allocUnsafe(64 * 1024);
  const until = Date.now() + LINGER_MS;
  let dropped = 0;
  while (Date.now() < until && dropped < LINGER_BYTES) {
    // recvInto duplicates the descriptor when called: a connection closed meanwhile (the server's
    // forced close at shutdown) must not be read again, its number may be another's now.
    if (socket.destroyed || socket._handle !== handle) return;
    const { err, n } = await new Promise<{ err: (Error & { code?: string }) | null; n: number }>((resolve) => recv(fd, scratch, 0, scratch.length, (e, k) => resolve({ err: e, n: k })));
    dropped += n;
    if (!err && n < scratch.length) return; // the client closed its side
    if (err && err.code !== 'EAGAIN') return;
    if (err) await delay(1); // nothing came for a few milliseconds: let the event loop run
  }
}

/**
 * Fastify's clientErrorHandler (a request Node.js's HTTP parser refused: malformed framing of a
 * streamed or given-back chunked body, headers too large), as Fastify's default answers it, but
 * lingering before the close as above: Fastify's default closes at once, and a client still sending
 * then gets a reset instead of the answer. The parser is stopped from reading (libuv's reads stop)
 * and the rest is dropped natively; where that cannot be done, the connection closes at once.
 */
export function answerClientError(err: Error & { code?: string }, socket: ServerSocket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [code, message] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'Client Error'];
  const status = STATUS_CODES[code]!;
  const body = JSON.stringify({ error: status, message, statusCode: code });
  if (socket.writable) socket.write(`HTTP/1.1 ${code} ${status}\r\nContent-Length: ${body.length}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
  const recv = native.recvInto;
  const tcp = tcpHandle(socket);
  if (!recv || !tcp || !socket.writable || !stopReads(tcp.handle)) {
    socket.destroy(err);
    return;
  }
  // NOTE: the callback runs on 'finish', which a socket failing before it never emits (it is destroyed then).
  socket.end(() => lingerThenDestroy(socket, tcp, recv));
}

/** Fastify's answers to the parser's errors other than a plain 400: status and message. */
const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Exceeded maximum allowed HTTP header size'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Client Timeout'],
};
