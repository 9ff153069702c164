import { REQUEST_ID_HEADER, requestIdOf } from '@app/observability';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { httpErrorBody } from './http-error-body';
import { HEADERS_TIMEOUT_MS, MAX_REQUEST_HEAD_BYTES, MAX_URL_BYTES } from './http-server.constants';

/** What Node's HTTP parser passes with `clientError` (rawPacket: the chunk it failed in). */
export interface HttpClientError extends Error {
  code?: string;
  bytesParsed?: number;
  rawPacket?: unknown;
}

/** How long an answered socket may take to flush before it is destroyed anyway. */
const FLUSH_LIMIT_MS = 1_000;

const REQUEST_LINE_START = /^[A-Z]+ /;
const REQUEST_ID_LINE = new RegExp(`\\r\\n${REQUEST_ID_HEADER}[ \\t]*:[ \\t]*([^\\r\\n]*)\\r\\n`, 'i');

/**
 * Fastify's `clientErrorHandler`: answers what Node's HTTP parser rejects
 * before Fastify sees a request (a request head over `maxHeaderSize`, a head
 * not received within the timeouts, malformed HTTP) in Nest's error shape with
 * an X-Request-Id, then closes the connection.
 */
export function answerClientError(error: HttpClientError, socket: Socket): void {
  // The peer reset the connection, or this socket was answered already (the parser reports again).
  if (error.code === 'ECONNRESET' || socket.destroyed || socket.writableEnded) return;
  // An answer already on the wire would be corrupted by a second one (what Node's own handler checks).
  if ((socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage?.headersSent === true) {
    socket.destroy();
    return;
  }
  const packet = Buffer.isBuffer(error.rawPacket) ? error.rawPacket : undefined;
  const { statusCode, message } = describe(error, packet);
  const requestId = requestIdOf({ [REQUEST_ID_HEADER]: requestIdIn(packet) });
  const errorBody = httpErrorBody(statusCode, message);
  const body = JSON.stringify(errorBody);
  socket.end(
    `HTTP/1.1 ${statusCode} ${errorBody.error}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${requestId}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
  const timer = setTimeout(() => socket.destroy(), FLUSH_LIMIT_MS);
  timer.unref();
  socket.once('finish', () => socket.destroy());
  socket.once('close', () => clearTimeout(timer));
}

function describe(error: HttpClientError, packet: Buffer | undefined): { statusCode: number; message: string } {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return requestLineOverflowed(error, packet)
        ? { statusCode: 400, message: `the request line (URL) is longer than ${MAX_URL_BYTES} bytes` }
        : {
            statusCode: 431,
            message: `the request headers are too large (request line and headers over ${MAX_REQUEST_HEAD_BYTES} bytes)`,
          };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { statusCode: 408, message: `the request was not received within ${HEADERS_TIMEOUT_MS} ms` };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { statusCode: 413, message: 'chunk extensions too large' };
    default:
      return { statusCode: 400, message: `malformed HTTP request (${error.code ?? 'parse error'})` };
  }
}

/**
 * Node's `maxHeaderSize` covers the request line and the headers together;
 * tell which one is too long from the chunk the parser failed in. No line
 * break before the failure point: it failed inside a line, the request line
 * (a single header line longer than a whole network read is indistinguishable
 * and also gets 400). Otherwise, when the request starts in this chunk, the
 * length of the URL on its first line decides; else the request line ended in
 * an earlier chunk and the headers overflowed.
 */
function requestLineOverflowed(error: HttpClientError, packet: Buffer | undefined): boolean {
  if (packet === undefined) return false;
  const parsed = packet.subarray(0, error.bytesParsed ?? packet.length);
  const lineEnd = parsed.indexOf('\n');
  if (lineEnd === -1) return true;
  if (!REQUEST_LINE_START.test(packet.toString('latin1', 0, 16))) return false;
  const urlStart = packet.indexOf(' ') + 1;
  const urlEnd = packet.lastIndexOf(' ', lineEnd);
  return urlEnd - urlStart > MAX_URL_BYTES;
}

/** The caller's X-Request-Id when its whole line is in the chunk the parser failed in. */
function requestIdIn(packet: Buffer | undefined): string | undefined {
  return packet === undefined ? undefined : REQUEST_ID_LINE.exec(packet.toString('latin1'))?.[1].trimEnd();
}
