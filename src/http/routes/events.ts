import { PassThrough } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { RequestInvalidError } from '../../core/errors.js';
import { formatCursor, parseLastEventId, RUN_EVENT_KINDS, START, type EventPosition } from '../../core/events.js';
import type { EngineDeps } from '../../engine/deps.js';
import { sqlState } from '../../storage/sqlstate.js';
import { problemResponses } from '../schemas.js';

/** A comment line this often keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;
/** The most events one `follow=false` request answers; a `more` message then says where to continue. */
export const REPLAY_CAP = 10_000;
const LAST_EVENT_ID = /^\d{1,18}(-\d{1,18})?$/;
const LAST_EVENT_ID_RULE = 'must be a cursor as the stream sends it (<digits>-<digits>) or an event id (digits)';

const kindList = z
  .string()
  .max(1_000)
  .transform((value) => value.split(',').map((kind) => kind.trim()))
  .pipe(z.array(z.enum(RUN_EVENT_KINDS, { error: `each kind must be one of ${RUN_EVENT_KINDS.join(', ')}` })).min(1));

/**
 * `GET /api/events` (SPEC §12, docs/events.md): every committed transition of every run, from
 * every server process, as Server-Sent Events — replayed from `run_events` after
 * `Last-Event-ID`, then live, each event once and in the record's order (the hub's `stream`).
 * A replay costs the server one page of events at a time whatever its range, waits for a slow
 * client instead of buffering, and stops as soon as the client goes away.
 */
export const eventRoutes: FastifyPluginAsyncZod<{ deps: EngineDeps }> = async (app, { deps }) => {
  const open = new Set<AbortController>();
  // A shutdown must not wait for streams that never end by themselves: end them first.
  app.addHook('preClose', async () => {
    for (const stream of [...open]) stream.abort();
  });

  app.get(
    '/api/events',
    {
      schema: {
        operationId: 'streamRunEvents',
        tags: ['runs'],
        summary: 'Follow every run event as it is committed (Server-Sent Events)',
        description:
          'Each event is `id: <cursor>`, `event: <kind>`, `data: <event JSON>` (docs/events.md). Send `Last-Event-ID` (or `?last_event_id=`) to replay ' +
          'the events after it from the database first. A `: ping` comment comes every 15 s. With `follow=false` the stream ends after the replay, ' +
          `or after \`limit\` events (at most ${REPLAY_CAP}) with an \`event: more\` message whose \`id\` is where to continue.`,
        querystring: z.strictObject({
          run: z.uuid().optional().describe("Only this run's events"),
          kind: kindList.optional().describe('Only these kinds, comma-separated (e.g. run_waiting,run_failed)'),
          last_event_id: z.string().regex(LAST_EVENT_ID, LAST_EVENT_ID_RULE).optional().describe('Replay the events after this one (for clients that cannot send Last-Event-ID)'),
          follow: z.enum(['true', 'false']).default('true').describe('false: end the stream after the replay instead of following live events'),
          limit: z.coerce
            .number()
            .int()
            .min(1)
            .max(REPLAY_CAP)
            .default(REPLAY_CAP)
            .describe(`With follow=false: at most this many events (default and most ${REPLAY_CAP}); an \`event: more\` message then gives the cursor to continue from`),
        }),
        response: {
          200: { description: 'The event stream', content: { 'text/event-stream': { schema: z.string() } } },
          ...problemResponses(422),
        },
      },
    },
    async (request, reply) => {
      const { run: runId, kind: kinds, follow, limit } = request.query;
      const header = request.headers['last-event-id'];
      const lastEventId = (Array.isArray(header) ? header[0] : header) ?? request.query.last_event_id;
      const after = lastEventId === undefined ? undefined : await resolveLastEventId(deps, lastEventId);

      const stream = new PassThrough();
      stream.on('error', () => {});
      const stop = new AbortController();
      open.add(stop);
      let heartbeat: NodeJS.Timeout | undefined;
      const end = () => {
        open.delete(stop);
        clearInterval(heartbeat);
        stop.abort();
        if (!stream.writableEnded) stream.end();
      };
      // The client gone (or the response otherwise over): the replay stops at its next event.
      reply.raw.once('close', end);
      stream.once('close', end);
      const write = (text: string): boolean => (stream.destroyed || stream.writableEnded ? false : stream.write(text));
      let answered = false;
      try {
        const { more } = await deps.events.stream(
          {
            send: (event) => write(`id: ${formatCursor(event.position)}\nevent: ${event.kind}\ndata: ${event.json}\n\n`),
            drained: () =>
              new Promise<void>((resolve) => {
                if (stop.signal.aborted || !stream.writableNeedDrain) return resolve();
                const done = () => {
                  stream.off('drain', done);
                  stop.signal.removeEventListener('abort', done);
                  resolve();
                };
                stream.once('drain', done);
                stop.signal.addEventListener('abort', done, { once: true });
              }),
            signal: stop.signal,
            opened() {
              // Headers go out once the stream is live: a failure before (the database down) is a problem answer.
              answered = true;
              void reply.status(200).header('content-type', 'text/event-stream; charset=utf-8').header('cache-control', 'no-store').header('x-accel-buffering', 'no').send(stream as unknown as string);
              write(': stepgate events\n\n');
              if (follow === 'true') heartbeat = setInterval(() => write(': ping\n\n'), HEARTBEAT_MS).unref();
            },
          },
          { after, filter: { runId, kinds }, follow: follow === 'true', limit },
        );
        if (more) write(`id: ${formatCursor(more)}\nevent: more\ndata: ${JSON.stringify({ last_event_id: formatCursor(more) })}\n\n`);
      } catch (err) {
        if (!answered) {
          end();
          throw err;
        }
        // (Not the message: a driver's carries the query's parameters.)
        request.log.error({ err: { type: (err as Error).name, sqlstate: sqlState(err) } }, 'streaming run events failed');
      }
      end();
      return reply;
    },
  );
};

/** Where a `Last-Event-ID` points: a cursor as it is, an event's id looked up (`0`: before every event). */
async function resolveLastEventId(deps: EngineDeps, text: string): Promise<EventPosition> {
  const parsed = parseLastEventId(text);
  if (!parsed) throw new RequestInvalidError([{ path: 'Last-Event-ID', message: LAST_EVENT_ID_RULE }], `Last-Event-ID ${LAST_EVENT_ID_RULE}.`);
  if ('position' in parsed) return parsed.position;
  if (parsed.eventId === 0n) return START;
  const position = await deps.events.positionOf(parsed.eventId);
  if (!position) {
    throw new RequestInvalidError(
      [{ path: 'Last-Event-ID', message: `there is no event ${parsed.eventId}` }],
      `There is no event ${parsed.eventId} (its run may have been removed): replay from 0, or follow without Last-Event-ID.`,
    );
  }
  return position;
}
