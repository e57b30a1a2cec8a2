import { PassThrough } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isAfter, type EventPosition, type RecordedEvent } from '../core/events.js';
import { isStepgateError } from '../core/errors.js';
import type { EngineDeps } from '../engine/deps.js';
import { problem, problemOf } from './problem.js';
import { sqlState } from '../storage/sqlstate.js';

export const NDJSON = 'application/x-ndjson';

/** Whether the client asked for the run's progress as NDJSON (SPEC §12). */
export const wantsNdjson = (request: FastifyRequest): boolean => (request.headers.accept ?? '').toLowerCase().includes(NDJSON);

/** What the OpenAPI document says about it, on each route that streams. */
export const NDJSON_NOTE =
  'With `Accept: application/x-ndjson` the answer is 200 `application/x-ndjson`: one run event per line as the runner works ' +
  '(docs/events.md), the last line being the run as the plain answer gives it, or `{"kind":"error","problem":{…}}` when it failed after streaming began. ' +
  'A refusal before anything ran is a normal problem.';

/** The kinds that say this request's runner holds the run: the stream begins there. */
const BEGINS = new Set(['run_started', 'run_resumed', 'run_retried']);

/**
 * Answers a run-executing request (create, resume, retry) as NDJSON: one event per line as
 * the runner works, then the run as the plain answer gives it (docs/events.md).
 *
 * - Headers go out lazily, at the event that says the runner holds the run; a refusal before
 *   anything was committed (404, 409, 422) is thrown and answered as a normal problem.
 * - Events come live from the hub; before the last line, the run's events since the last one
 *   written are read from `run_events` (the hub may not have read the final transition's
 *   yet), so none is missing, none repeats (a run's events commit in position order).
 * - The run executes inside the request as before; a client that goes away does not cut it
 *   short: writes to its closed stream are dropped.
 */
export async function streamRun(
  deps: EngineDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  runId: string,
  execute: () => Promise<unknown>,
  options: { location?: string } = {},
): Promise<FastifyReply> {
  const hub = deps.events;
  // An existing run's earlier history is not this request's (nor is that of a run whose id a
  // create repeats, refused with 409).
  let lastWritten: EventPosition = await hub.lastOfRun(runId);
  let stream: PassThrough | undefined;
  const pending: RecordedEvent[] = [];

  const write = (line: unknown) => {
    if (stream && !stream.destroyed && !stream.writableEnded) stream.write(`${JSON.stringify(line)}\n`);
  };
  const emit = (event: RecordedEvent) => {
    if (!isAfter(event.position, lastWritten)) return;
    lastWritten = event.position;
    if (stream && !stream.destroyed && !stream.writableEnded) stream.write(`${event.json}\n`);
  };
  const begin = () => {
    if (stream) return;
    stream = new PassThrough();
    // The client may be gone: what is written then goes nowhere, and the run goes on.
    stream.on('error', () => {});
    if (options.location) reply.header('location', options.location);
    void reply.status(200).header('content-type', NDJSON).header('cache-control', 'no-store').header('x-accel-buffering', 'no').send(stream);
    for (const event of pending.splice(0)) emit(event);
  };

  const unsubscribe = await hub.subscribe(
    (event) => {
      if (stream) return emit(event);
      pending.push(event);
      if (BEGINS.has(event.kind)) begin();
    },
    { runId },
  );
  const catchUp = async () => {
    for (;;) {
      const missed = await hub.readRun(runId, lastWritten, 1_000);
      for (const event of missed) emit(event);
      if (missed.length < 1_000) return;
    }
  };
  try {
    const answer = await execute();
    begin();
    await catchUp();
    write(answer);
  } catch (err) {
    // Something committed (the hub may not have read it yet): the stream tells it, then the error.
    if (!stream && (await hub.readRun(runId, lastWritten, 1).catch(() => [])).length === 0) throw err;
    begin();
    await catchUp().catch(() => {});
    const body = isStepgateError(err) ? problemOf(err) : problem(500, 'INTERNAL', 'stepgate failed to handle this request; the server log has the details.');
    if (body.status >= 500) request.log.error({ err: { type: (err as Error).name, sqlstate: sqlState(err) } }, 'streamed request failed');
    body.instance = request.url;
    body.request_id = String(request.id);
    write({ kind: 'error', problem: body });
  } finally {
    unsubscribe();
  }
  stream?.end();
  return reply;
}
