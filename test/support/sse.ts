import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { RunEvent } from '../../src/core/events.js';

export interface SseMessage {
  readonly id: string | undefined;
  readonly event: string | undefined;
  readonly data: RunEvent;
}

/**
 * A Server-Sent Events client over node:http (so that `close()` drops the connection at once):
 * `opened` settles at the server's first comment, sent once its subscription is live;
 * `next()` answers the next event (comments skipped), undefined when the stream ended.
 */
export interface SseClient {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The parsed body of an answer other than 200 (a problem). */
  readonly problem: unknown;
  next(): Promise<SseMessage | undefined>;
  /** The next `count` events. */
  take(count: number): Promise<SseMessage[]>;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const request = httpRequest(url, { headers: { accept: 'text/event-stream', ...headers } });
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    request.on('response', resolve).on('error', reject);
    request.end();
  });
  response.setEncoding('utf8');
  const iterator = response[Symbol.asyncIterator]() as AsyncIterator<string>;
  let buffer = '';
  let ended = false;
  /** The next block (up to a blank line), or undefined at the end. */
  const block = async (): Promise<string | undefined> => {
    for (;;) {
      const at = buffer.indexOf('\n\n');
      if (at >= 0) {
        const text = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        return text;
      }
      if (ended) return undefined;
      const chunk = await iterator.next();
      if (chunk.done) ended = true;
      else buffer += chunk.value;
    }
  };
  const next = async (): Promise<SseMessage | undefined> => {
    for (;;) {
      const text = await block();
      if (text === undefined) return undefined;
      const fields = new Map<string, string>();
      for (const line of text.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        fields.set(line.slice(0, colon), line.slice(colon + 1).replace(/^ /, ''));
      }
      if (!fields.has('data')) continue;
      return { id: fields.get('id'), event: fields.get('event'), data: JSON.parse(fields.get('data')!) as RunEvent };
    }
  };
  let problem: unknown;
  if (response.statusCode !== 200) {
    let text = '';
    for await (const chunk of response) text += chunk as string;
    problem = JSON.parse(text);
  } else {
    // The server's opening comment: its subscription is live from here on.
    const first = await block();
    if (first === undefined || !first.startsWith(':')) throw new Error(`expected the opening comment, got ${first}`);
  }
  return {
    status: response.statusCode ?? 0,
    headers: response.headers,
    problem,
    next,
    async take(count) {
      const messages: SseMessage[] = [];
      while (messages.length < count) {
        const message = await next();
        if (!message) throw new Error(`the stream ended after ${messages.length} of ${count} events`);
        messages.push(message);
      }
      return messages;
    },
    close() {
      request.destroy();
      response.destroy();
    },
  };
}
