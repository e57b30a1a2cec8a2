import { PassThrough } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { RequestInvalidError } from '../../core/errors.js';
import { RUN_EVENT_KINDS, type RunEvent } from '../../core/events.js';
import type { EngineDeps } from '../../engine/deps.js';
import { problemResponses } from '../schemas.js';

/** A comment line this often keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;
const REPLAY_PAGE = 1_000;
const EVENT_ID = /^\d{1,18}$/;

const kindList = z
  .string()
  .max(1_000)
  .transform((value) => value.split(',').map((kind) => kind.trim()))
  .pipe(z.array(z.enum(RUN_EVENT_KINDS, { error: `each kind must be one of ${RUN_EVENT_KINDS.join(', ')}` })).min(1));

/**
 * `GET /api/events` (SPEC §12, docs/events.md): every committed transition of every run, from
 * every server process, as Server-Sent Events. It subscribes to the hub first, then replays
 * from `run_events` what came after `Last-Event-ID`, then goes on live — each event once.
 */
export const eventRoutes: FastifyPluginAsyncZod<{ deps: EngineDeps }> = async (app, { deps }) => {
  const open = new Set<() => void>();
  // A shutdown must not wait for streams that never end by themselves: end them first.
  app.addHook('preClose', async () => {
    for (const end of [...open]) end();
  });

  app.get(
    '/api/events',
    {
      schema: {
        operationId: 'streamRunEvents',
        tags: ['runs'],
        summary: 'Follow every run event as it is committed (Server-Sent Events)',
        description:
          'Each event is `id: <id>`, `event: <kind>`, `data: <event JSON>` (docs/events.md). Send `Last-Event-ID` (or `?last_event_id=`) to replay ' +
          'the events after it from the database first. A `: ping` comment comes every 15 s. With `follow=false` the stream ends after the replay.',
        querystring: z.strictObject({
          run: z.uuid().optional().describe("Only this run's events"),
          kind: kindList.optional().describe('Only these kinds, comma-separated (e.g. run_waiting,run_failed)'),
          last_event_id: z.string().regex(EVENT_ID).optional().describe('Replay the events after this id (for clients that cannot send Last-Event-ID)'),
          follow: z.enum(['true', 'false']).default('true').describe('false: end the stream after the replay instead of following live events'),
        }),
        response: {
          200: { description: 'The event stream', content: { 'text/event-stream': { schema: z.string() } } },
          ...problemResponses(422),
        },
      },
    },
    async (request, reply) => {
      const { run: runId, kind: kinds, follow } = request.query;
      const header = request.headers['last-event-id'];
      const lastEventId = (Array.isArray(header) ? header[0] : header) ?? request.query.last_event_id;
      if (lastEventId !== undefined && !EVENT_ID.test(lastEventId)) {
        throw new RequestInvalidError([{ path: 'Last-Event-ID', message: 'must be an event id: digits only' }], 'Last-Event-ID must be the id of an event (digits only).');
      }
      const filter = { runId, kinds };
      const stream = new PassThrough();
      stream.on('error', () => {});
      const write = (text: string) => {
        if (!stream.destroyed && !stream.writableEnded) stream.write(text);
      };
      const replayed = new Set<string>();
      let replaying = true;
      const buffered: RunEvent[] = [];
      const send = (event: RunEvent) => write(`id: ${event.id}\nevent: ${event.kind}\ndata: ${JSON.stringify(event)}\n\n`);

      const unsubscribe =
        follow === 'true'
          ? await deps.events.subscribe((event) => {
              if (replaying) buffered.push(event);
              else if (!replayed.has(event.id)) send(event);
            }, filter)
          : () => {};
      let heartbeat: NodeJS.Timeout | undefined;
      const end = () => {
        open.delete(end);
        clearInterval(heartbeat);
        unsubscribe();
        if (!stream.writableEnded) stream.end();
      };
      open.add(end);
      request.raw.once('close', end);
      void reply.status(200).header('content-type', 'text/event-stream; charset=utf-8').header('cache-control', 'no-store').header('x-accel-buffering', 'no').send(stream as unknown as string);
      write(': stepgate events\n\n');
      try {
        for (let after = lastEventId; after !== undefined; ) {
          const page = await deps.events.read(after, filter, REPLAY_PAGE);
          for (const event of page) {
            replayed.add(event.id);
            send(event);
          }
          after = page.length === REPLAY_PAGE ? page.at(-1)!.id : undefined;
        }
      } catch (err) {
        request.log.error({ err: { message: (err as Error).message } }, 'replaying run events failed');
        end();
        return reply;
      }
      replaying = false;
      for (const event of buffered.splice(0)) if (!replayed.has(event.id)) send(event);
      if (follow === 'false') end();
      else heartbeat = setInterval(() => write(': ping\n\n'), HEARTBEAT_MS).unref();
      return reply;
    },
  );
};
