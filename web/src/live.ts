import { createParser } from 'eventsource-parser';
import type { ApiClient } from './api/client.js';

export type LiveState = 'connecting' | 'live' | 'unavailable' | 'reconnecting';

/**
 * Follows `GET /api/events` (Server-Sent Events, SPEC §12). Read with fetch rather than
 * EventSource so the token travels in the Authorization header, never in the URL; reconnects
 * with `Last-Event-ID`. On a server without the route (features.ts) it is "unavailable": the
 * pages then refresh after the operator's own actions.
 */
export function followEvents(client: ApiClient, available: boolean, onEvent: (type: string, data: string) => void, onState: (state: LiveState) => void): () => void {
  const controller = new AbortController();
  if (!available) {
    onState('unavailable');
    return () => controller.abort();
  }
  let lastEventId: string | undefined;
  let delay = 1000;

  const connect = async (): Promise<void> => {
    const headers = client.headers({ accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) });
    const response = await fetch('/api/events', { headers, signal: controller.signal, cache: 'no-store' });
    if (response.status === 404 || response.status === 401 || response.status === 403) {
      onState('unavailable');
      return;
    }
    if (!response.ok || !response.body) throw new Error(`events answered ${response.status}`);
    onState('live');
    delay = 1000;
    const parser = createParser({
      onEvent(event) {
        if (event.id) lastEventId = event.id;
        onEvent(event.event ?? 'message', event.data);
      },
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(value);
    }
    throw new Error('events stream ended');
  };

  const loop = async () => {
    onState('connecting');
    while (!controller.signal.aborted) {
      try {
        await connect();
        return;
      } catch {
        if (controller.signal.aborted) return;
        onState('reconnecting');
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 30_000);
      }
    }
  };
  void loop();
  return () => controller.abort();
}
