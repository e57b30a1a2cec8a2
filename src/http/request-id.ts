import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * Request ids: a caller's `X-Request-Id` is kept when it is sane (1–128 characters of
 * letters, digits and `._:-`, so it can be quoted, logged and searched safely); otherwise the
 * server makes one (a UUID). It is echoed on every response, labels every log line of the
 * request and is part of every problem+json body as `request_id`.
 */
export const REQUEST_ID_HEADER = 'x-request-id';
const SANE = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && SANE.test(given) ? given : randomUUID();
}
