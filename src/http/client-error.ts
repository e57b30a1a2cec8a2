import { randomUUID } from 'node:crypto';
import { maxHeaderSize, STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { PROBLEM_CONTENT_TYPE, problem } from './problem.js';
import { REQUEST_ID_HEADER } from './request-id.js';

/**
 * A request Node's HTTP parser refuses before Fastify sees it (Node's `clientError`): a
 * request line and headers over Node's limit (431), a request that took too long to arrive
 * (408), bytes that are not HTTP (400). Answered, like every other refusal, with problem
 * details and a request id, then the connection is closed (the parser cannot go on with it).
 * Node's own answer, and Fastify's, is a bare status line or a JSON body of another shape.
 */
export function answerClientError(this: FastifyInstance, err: Error & { code?: string }, socket: Duplex): void {
  // A reset connection has no one to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, detail] = describe(err.code);
  this.log.debug({ err_code: err.code }, `client error answered ${status}`);
  // As Node does: nothing is written into a response already under way on this connection.
  const underway = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage?.headersSent === true;
  if (socket.writable && !underway) {
    const id = randomUUID();
    const body = JSON.stringify(problem(status, code, detail, { request_id: id }));
    socket.write(
      [
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
        `Content-Type: ${PROBLEM_CONTENT_TYPE}`,
        `Content-Length: ${Buffer.byteLength(body)}`,
        `${REQUEST_ID_HEADER}: ${id}`,
        'X-Content-Type-Options: nosniff',
        'Cache-Control: no-store',
        'Connection: close',
        '',
        body,
      ].join('\r\n'),
    );
  }
  socket.destroy();
}

function describe(code: string | undefined): [status: number, code: string, detail: string] {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return [
        431,
        'HEADERS_TOO_LARGE',
        `The request line and headers are larger than this server accepts (${maxHeaderSize} bytes in all): send a shorter URL, fewer or shorter headers (cookies?). Node's --max-http-header-size sets the limit.`,
      ];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'REQUEST_TIMEOUT', 'The request did not arrive whole in time: send it again.'];
    default:
      return [400, 'MALFORMED_REQUEST', `The request is not valid HTTP/1.1 (${code ?? 'unknown parser error'}).`];
  }
}
