import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';

/**
 * Reads a streamed answer line by line as it arrives (NDJSON, SPEC §12), over real HTTP:
 * `next()` settles with the next complete line's JSON, or undefined at the end. node:http
 * rather than fetch, so that `abort()` closes the socket at once, as a client going away does.
 */
export interface LineReader {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  next(): Promise<unknown>;
  /** Every line still to come, until the end. */
  rest(): Promise<unknown[]>;
  /** Goes away: the connection is closed from this side. */
  abort(): void;
}

export async function openLines(url: string, init: { method: string; headers?: Record<string, string>; body?: string }): Promise<LineReader> {
  const request = httpRequest(url, { method: init.method, headers: { ...init.headers, connection: 'close' } });
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    request.on('response', resolve).on('error', reject);
    request.end(init.body);
  });
  response.setEncoding('utf8');
  const iterator = response[Symbol.asyncIterator]() as AsyncIterator<string>;
  let buffer = '';
  let done = false;
  const next = async (): Promise<unknown> => {
    for (;;) {
      const newline = buffer.indexOf('\n');
      if (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line.trim() === '') continue;
        return JSON.parse(line);
      }
      if (done) {
        if (buffer.trim() === '') return undefined;
        const last = buffer;
        buffer = '';
        return JSON.parse(last);
      }
      const chunk = await iterator.next();
      if (chunk.done) done = true;
      else buffer += chunk.value;
    }
  };
  return {
    status: response.statusCode ?? 0,
    headers: response.headers,
    next,
    async rest() {
      const lines: unknown[] = [];
      for (let line = await next(); line !== undefined; line = await next()) lines.push(line);
      return lines;
    },
    abort: () => {
      request.destroy();
      response.destroy();
    },
  };
}
